"""Write a file so that readers see either the old file or the complete new one.

A crash or Ctrl-C half way through writing a dataset file or an image must not leave a
truncated file under the final name: the next run would trust it. So we write to a temporary
file in the same directory (same filesystem, so ``os.replace`` is an atomic rename) and rename
it over the target only after everything was written and flushed.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO


def temp_path_for(path: Path) -> Path:
    """A fresh hidden name beside ``path``; hidden so folder scans never pick it up."""
    return path.with_name(f".{path.name}.{secrets.token_hex(6)}.part")


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike[str]) -> Iterator[BinaryIO]:
    """Yield a binary file; on clean exit it replaces ``path``, on error it is deleted.

    The temporary file is created with mode 0o666 filtered by the umask, like ``open`` would,
    rather than ``tempfile``'s 0o600, so the final file has ordinary permissions.
    """
    target = Path(path)
    tmp = temp_path_for(target)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
