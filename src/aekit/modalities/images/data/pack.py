"""`aekit pack`: any image source aekit loads -> uint8 shards on disk, read later by memory map.

The layout is described in shards.py. Three promises:

- **Streaming.** A folder is read one image at a time (names and headers first, for the order,
  the labels and the size), and each image goes straight to its shard file: a 20 GB folder
  packs in the memory of one image and one write buffer. Named sets and arrays are loaded as
  `aekit train` loads them and written in chunks.
- **The same rows as the in-memory path.** Rows are written in the order the in-memory loader
  makes them (pool, then the official test split), converted and resized by the same functions
  (images.py), so ``shards:DIR`` splits and trains exactly as the source does in memory.
- **Atomic.** Everything is written into a hidden temporary directory beside ``--out`` and
  renamed to ``--out`` only when the index, the last file written, is complete; a failure or
  Ctrl-C deletes it, and a kill leaves only that hidden directory, which the next pack to the
  same ``--out`` removes. Shards are written with plain file writes, not through a memory map:
  a disk that fills under a memory map kills the process with SIGBUS instead of an error.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import io
import math
import os
import secrets
import shutil
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from aekit.atomic import write_json_atomic
from aekit.errors import AekitError
from aekit.modalities.images.data import local
from aekit.modalities.images.data.images import convert_channels, resize_images
from aekit.modalities.images.data.memory import format_bytes
from aekit.modalities.images.data.shards import FORMAT, INDEX, INDEX_VERSION, LABELS, shard_name
from aekit.modalities.images.data.sources import folder_path, load_parts

SHARD_BYTES = 256 * 2**20  # default shard size: few files, each small enough to copy or check
CHUNK_BYTES = 16 * 2**20  # rows converted at a time from an in-memory source
SPLIT_RULE = (
    "rows [0, pool) are the pool: validation (and test, when test is 0) are drawn from it by "
    "the run's seed, val_fraction, test_fraction and limit, as for the source in memory; rows "
    "[pool, pool + test) are the source's official test split"
)


@dataclass(frozen=True)
class PackSummary:
    out: Path
    images: int
    shards: int
    bytes: int
    seconds: float
    shape: tuple[int, int, int]
    source: str

    def line(self) -> str:
        c, h, w = self.shape
        many = "shard" if self.shards == 1 else "shards"
        return (
            f"packed {self.images} images of {c}x{h}x{w} from {self.source} into {self.shards} "
            f"{many} ({format_bytes(self.bytes)}) in {self.out} in {self.seconds:.1f} s; "
            f"train on it with: aekit train MODEL --data shards:{self.out}"
        )


@dataclass(frozen=True)
class _Plan:
    """What will be written: the rows (a stream of uint8 (k, C, H, W) chunks) and the index."""

    source: str
    location: str
    shape: tuple[int, int, int]
    n_pool: int
    n_test: int
    labels: np.ndarray | None
    classes: tuple[str, ...] | None
    chunks: Iterator[np.ndarray]


def pack(
    source: str,
    out: str | os.PathLike[str],
    *,
    size: int | None = None,
    channels: int | None = None,
    shard_rows: int | None = None,
    force: bool = False,
    data_dir: str | os.PathLike[str] | None = None,
    download: bool = True,
    progress: bool = False,
) -> PackSummary:
    """Pack `source` (any name `load_dataset` takes) into `out`; see the module docstring.

    `size` resizes every image to size x size (for ``photos``, the patch size); `channels`
    stores 1 (gray) or 3 (RGB), else the source's own; `shard_rows` images per shard (default:
    about SHARD_BYTES each); `force` replaces a non-empty `out`."""
    for label, value in (("--size", size), ("--shard-rows", shard_rows)):
        if value is not None and (isinstance(value, bool) or value < 1):
            raise AekitError(f"{label} must be a positive integer, got {value!r}")
    if channels not in (None, 1, 3):
        raise AekitError(f"channels must be 1 (gray), 3 (RGB) or None, got {channels!r}")
    target = Path(out).expanduser().absolute()
    _check_out(target, force)
    started = time.perf_counter()
    plan = _plan(source, size, channels, data_dir, download)
    where = Path(plan.location)
    if force and where.is_absolute() and (where == target or target in where.parents):
        raise AekitError(f"--out {target} holds the source being packed ({where}); --force "
                         "would delete it: choose another --out")  # fmt: skip
    n = plan.n_pool + plan.n_test
    row_bytes = math.prod(plan.shape)
    rows_per_shard = shard_rows or max(1, SHARD_BYTES // row_bytes)
    _check_disk(target.parent, n * (row_bytes + 8) + 4096 * (n // rows_per_shard + 2))
    for stale in target.parent.glob(f".{target.name}.*.part"):
        shutil.rmtree(stale, ignore_errors=True)  # a killed pack's leftovers, never data
    tmp = target.parent / f".{target.name}.{secrets.token_hex(6)}.part"
    tmp.mkdir(parents=True)
    try:
        bar = _bar(n, progress)
        shards = _write_shards(tmp, plan, n, rows_per_shard, bar)
        bar.close()
        index = {
            "format": FORMAT,
            "version": INDEX_VERSION,
            "shape": list(plan.shape),
            "dtype": "uint8",
            "rows": n,
            "shards": shards,
            "labels": None if plan.labels is None else _write_labels(tmp / LABELS, plan.labels),
            "classes": None if plan.classes is None else list(plan.classes),
            "split": {"pool": plan.n_pool, "test": plan.n_test, "rule": SPLIT_RULE},
            "source": plan.source,
            "location": plan.location,
            "packed": {"size": size, "channels": channels},
        }
        write_json_atomic(tmp / INDEX, index)  # last: a directory with an index is complete
        _move_into_place(tmp, target)
    except OSError as e:
        shutil.rmtree(tmp, ignore_errors=True)
        if e.errno not in (errno.ENOSPC, errno.EDQUOT):
            raise
        raise AekitError(
            f"the disk holding {target.parent} filled up while packing ({e.strerror}); "
            "nothing was written: free some space"
        ) from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    total = sum(s["bytes"] for s in shards)
    return PackSummary(
        target, n, len(shards), total, time.perf_counter() - started, plan.shape, plan.source
    )


def _check_out(target: Path, force: bool) -> None:
    if target.exists() and not target.is_dir():
        raise AekitError(f"--out {target} exists and is not a directory")
    if target.is_dir() and any(target.iterdir()) and not force:
        raise AekitError(
            f"--out {target} is not empty; choose another directory or pass --force to replace it"
        )


def _check_disk(directory: Path, need: int) -> None:
    """Refuse up front when the pack cannot fit on the disk, rather than fail half way."""
    probe = directory
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    free = shutil.disk_usage(probe).free
    if need > free:
        raise AekitError(
            f"packing needs about {format_bytes(need)} of disk but only {format_bytes(free)} "
            f"is free at {probe}; free some space, choose another --out, or pass a smaller --size"
        )


def _plan(
    source: str,
    size: int | None,
    channels: int | None,
    data_dir: str | os.PathLike[str] | None,
    download: bool,
) -> _Plan:
    folder = folder_path(source)
    if folder is not None:  # streamed: one image in memory at a time
        root = folder.expanduser().resolve()
        plan = local.plan_folder(root, channels, size, size_option="--size")
        n = len(plan.files)
        chunks = (plan.read(i)[None] for i in range(n))
        return _Plan(
            f"folder:{root}", str(root), plan.shape, plan.n_train, n - plan.n_train,
            plan.labels, plan.classes, chunks,
        )  # fmt: skip
    parts = load_parts(source, data_dir=data_dir, image_size=size, channels=channels,
                       download=download)  # fmt: skip
    c, h, w = parts.pool.images.shape[1:]
    if not parts.sized:
        c, (h, w) = channels or c, ((size, size) if size else (h, w))
    splits = [parts.pool] if parts.test is None else [parts.pool, parts.test]
    labelled = [s.labels for s in splits if s.labels is not None]
    labels = np.concatenate(labelled) if len(labelled) == len(splits) else None

    def chunks() -> Iterator[np.ndarray]:
        step = max(1, CHUNK_BYTES // (c * h * w))
        for split in splits:
            for start in range(0, len(split), step):
                images = split.images[start : start + step]  # an ndarray, even from shards
                if not parts.sized:  # as make_dataset transforms each split, row by row
                    images = convert_channels(np.asarray(images), channels)
                    if size is not None:
                        images = resize_images(images, (size, size))
                yield np.asarray(images)

    return _Plan(
        parts.name, parts.location, (int(c), int(h), int(w)), len(parts.pool),
        0 if parts.test is None else len(parts.test), labels, parts.classes, chunks(),
    )  # fmt: skip


def _write_shards(
    directory: Path, plan: _Plan, n: int, rows_per_shard: int, bar: Any
) -> list[dict[str, Any]]:
    """Write the plan's rows into shard files of `rows_per_shard` rows; their index entries."""
    entries: list[dict[str, Any]] = []
    pending = np.empty((0, *plan.shape), dtype=np.uint8)
    chunks = iter(plan.chunks)
    for k in range(math.ceil(n / rows_per_shard)):
        rows = min(rows_per_shard, n - k * rows_per_shard)
        path = directory / shard_name(k)
        with _npy_writer(path, (rows, *plan.shape), np.uint8) as (f, digest):
            left = rows
            while left:
                if not len(pending):
                    pending = np.ascontiguousarray(next(chunks), dtype=np.uint8)
                    if pending.shape[1:] != plan.shape:  # a loader broke its promise
                        raise AssertionError(f"chunk of {pending.shape[1:]}, planned {plan.shape}")
                take, pending = pending[:left], pending[left:]
                _write(f, digest, memoryview(take).cast("B"))  # no copy
                left -= len(take)
                bar.update(len(take))
        entries.append(
            {
                "file": path.name,
                "rows": rows,
                "bytes": path.stat().st_size,
                "sha256": digest.hexdigest(),
            }  # fmt: skip
        )
    if len(pending) or next(chunks, None) is not None:
        raise AssertionError(f"the source gave more than the {n} images it announced")
    return entries


@contextlib.contextmanager
def _npy_writer(path: Path, shape: tuple[int, ...], dtype: type) -> Iterator[tuple[BinaryIO, Any]]:
    """An open .npy file with its header written, and the sha256 of what is written to it;
    fsynced when the block ends."""
    digest = hashlib.sha256()
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header,
        {
            "descr": np.lib.format.dtype_to_descr(np.dtype(dtype)),
            "fortran_order": False,
            "shape": shape,
        },  # fmt: skip
    )
    with open(path, "xb") as f:
        _write(f, digest, header.getvalue())
        yield f, digest
        f.flush()
        os.fsync(f.fileno())


def _write(f: BinaryIO, digest: Any, data: bytes | memoryview) -> None:
    f.write(data)
    digest.update(data)


def _write_labels(path: Path, labels: np.ndarray) -> dict[str, Any]:
    with _npy_writer(path, labels.shape, np.int64) as (f, digest):
        _write(f, digest, np.ascontiguousarray(labels, dtype=np.int64).tobytes())  # small
    return {"file": path.name, "bytes": path.stat().st_size, "sha256": digest.hexdigest()}


def _move_into_place(tmp: Path, target: Path) -> None:
    """Rename the finished pack to `target`; an old non-empty `target` (--force) is renamed
    aside first and deleted after, so at every moment one complete pack has the name."""
    old = None
    if target.is_dir() and any(target.iterdir()):
        old = target.parent / f".{target.name}.{secrets.token_hex(6)}.part"
        os.replace(target, old)
    try:
        os.replace(tmp, target)  # onto an empty directory, or a free name
    except BaseException:
        if old is not None:
            os.replace(old, target)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _bar(total: int, progress: bool) -> Any:
    from tqdm import tqdm

    return tqdm(
        total=total, unit="image", desc="pack", leave=False, file=sys.stderr,
        disable=not (progress and sys.stderr.isatty()),
    )  # fmt: skip
