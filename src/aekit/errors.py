"""The one exception a user of aekit sees.

Raise `AekitError` for anything the user can fix (a bad path, an impossible option, a corrupt
file). The message is one line that names the offending value and says what to do. The CLI
prints it as ``aekit: error: <message>`` and exits with status 2; programming errors stay
ordinary exceptions with tracebacks.
"""

from __future__ import annotations


class AekitError(Exception):
    """A user-facing error: one line, the offending value, and what to do about it."""

    exit_code = 2


def first_line(exc: BaseException) -> str:
    """The first line of a library exception's message (or its type when it has none), to quote
    inside a one-line AekitError."""
    text = str(exc)
    return text.splitlines()[0] if text.strip() else type(exc).__name__
