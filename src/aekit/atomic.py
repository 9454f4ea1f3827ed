"""Write a file so that readers see either the old file or the complete new one.

A crash or Ctrl-C half way through writing a checkpoint, a dataset file or an image must not
leave a truncated file under the final name: the next run would trust it. So we write to a
temporary file in the same directory (same filesystem, so ``os.replace`` is an atomic rename),
fsync it, and rename it over the target only after everything was written.

A disk that fills up during the write fails it before the rename, so the old file stays; the
error becomes `DiskFullError`, one line saying where, instead of a traceback.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from aekit.errors import AekitError

_NO_SPACE = (errno.ENOSPC, errno.EDQUOT)


class DiskFullError(AekitError):
    """No space (or quota) left while writing a file; the file it was to replace is intact."""


def temp_path_for(path: Path) -> Path:
    """A fresh hidden name beside ``path``; hidden so folder scans never pick it up."""
    return path.with_name(f".{path.name}.{secrets.token_hex(6)}.part")


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` for a writer that wants a file name (safetensors,
    numpy); on clean exit it is fsynced and renamed over ``path``, on error deleted."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path_for(target)
    try:
        yield tmp
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, target)
        _fsync_directory(target.parent)
    except OSError as exc:
        if exc.errno not in _NO_SPACE:
            raise
        what = "the previous one is intact" if target.exists() else "nothing was written"
        raise DiskFullError(
            f"the disk holding {target.parent} is full ({exc.strerror}) while writing "
            f"{target.name}; {what}: free some space"
        ) from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def _fsync_directory(directory: Path) -> None:
    """Make the rename itself durable (a power cut after it must not bring back the old file);
    some filesystems cannot open or fsync a directory, and lose nothing by skipping it."""
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def remove_stale_temps(directory: Path) -> None:
    """Delete the temporary files a killed writer left in `directory` (never used as data)."""
    for leftover in directory.glob(".*.part"):
        with contextlib.suppress(OSError):
            leftover.unlink()


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike[str]) -> Iterator[BinaryIO]:
    """Yield a binary file; on clean exit it replaces ``path``, on error it is deleted.

    The file is created with mode 0o666 filtered by the umask, like ``open`` would, rather than
    ``tempfile``'s 0o600, so the final file has ordinary permissions.
    """
    with atomic_path(path) as tmp:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        with os.fdopen(fd, "wb") as f:
            yield f


def write_text_atomic(path: str | os.PathLike[str], text: str) -> None:
    with atomic_write(path) as f:
        f.write(text.encode("utf-8"))


def write_json_atomic(path: str | os.PathLike[str], data: Any) -> None:
    write_text_atomic(path, json.dumps(data, indent=2, sort_keys=True) + "\n")


@contextlib.contextmanager
def atomic_directory(path: str | os.PathLike[str], replace: bool = False) -> Iterator[Path]:
    """Yield a new hidden directory beside ``path`` to fill; on clean exit its files are
    fsynced and it is renamed to ``path``, on error it is deleted, so ``path`` is never a
    half-filled directory. An existing ``path`` that holds anything is refused in one line
    before the caller starts, unless ``replace``: then it is swapped out and deleted."""
    target = Path(path)
    if target.exists() and not target.is_dir():
        raise AekitError(f"{target} is a file, not a directory; choose another --out")
    if target.is_dir() and any(target.iterdir()) and not replace:
        raise AekitError(f"{target} already holds files; choose another --out (or --overwrite)")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path_for(target)
    tmp.mkdir()
    try:
        yield tmp
        for file in tmp.rglob("*"):
            if file.is_file():
                with open(file, "rb") as f:
                    os.fsync(f.fileno())
        old = None
        if target.is_dir() and any(target.iterdir()):
            old = temp_path_for(target)
            os.replace(target, old)
        try:
            os.replace(tmp, target)  # over nothing, or over an empty directory
        except OSError:
            if old is not None:  # put the previous one back
                os.replace(old, target)
            raise
        _fsync_directory(target.parent)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
