"""The root of the command line: registers every command group, then runs the app.

Every user error is an AekitError, printed by `main` as one line on stderr with exit status 2.
This module imports the command modules; none of them imports it back.
"""

from __future__ import annotations

import sys

import typer

from aekit.cli import (  # noqa: F401
    catalog,
    evaluate,
    export,
    images,
    latent,
    pack,
    report,
    serve,
    train,
)
from aekit.cli.common import app
from aekit.errors import AekitError


def main() -> None:
    """Entry point. Typer reports its own usage errors (exit 2) and exits with a command's
    typer.Exit code; an AekitError from the library becomes one line and exit status 2."""
    try:
        app()
    except AekitError as exc:
        typer.echo(f"aekit: error: {exc}", err=True)
        sys.exit(AekitError.exit_code)
