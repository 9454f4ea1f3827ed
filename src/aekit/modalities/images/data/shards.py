"""`shards:DIR`: images packed by `aekit pack` (pack.py), read through memory maps.

A pack directory holds uint8 (R, C, H, W) ``.npy`` shards and one small JSON index:

    DIR/index.json         what is below, and how the rows split (INDEX_VERSION)
    DIR/shard-00000.npy    rows [0, R0) of the pack
    DIR/shard-00001.npy    rows [R0, R0 + R1) ...
    DIR/labels.npy         int64 (N,), only when the images have classes

The rows are the source's images in the order its in-memory loader reads them: first its pool
(what train and validation are drawn from), then its official test split if it has one. The
index stores those two counts, not a split: the split is made at load time by the same code
and the same rule as the in-memory path (splits.py, from the run's seed, val_fraction, limit),
so training on ``shards:DIR`` sees exactly the batches that training on the source in memory
sees, and gives the same weights bitwise.

Opening reads the index and each shard's .npy header, checks them against each other and the
file sizes, and maps every shard (``np.load(mmap_mode="r")``): no pixel is read until a batch
asks for it, and each process under torchrun maps the same files (the page cache holds one
copy per machine). Labels are read into memory (8 bytes an image).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from aekit.errors import AekitError
from aekit.modalities.images.data.rows import ShardRows
from aekit.modalities.images.data.splits import ImageSet

FORMAT = "aekit-shards"
INDEX_VERSION = 1
INDEX = "index.json"
LABELS = "labels.npy"


def shard_name(k: int) -> str:
    return f"shard-{k:05d}.npy"


@dataclass(frozen=True)
class Pack:
    """An opened pack: its pool and official test split (unread), classes and the index."""

    pool: ImageSet
    test: ImageSet | None
    classes: tuple[str, ...] | None
    source: str  # what was packed, e.g. "folder:/photos" or "fashion-mnist"
    shape: tuple[int, int, int]  # (C, H, W)


def open_pack(directory: Path) -> Pack:
    """Open `directory` (written by `aekit pack`), checking everything but the pixels."""
    root = directory.expanduser()
    if not root.is_dir():
        raise AekitError(f"shards: {root} is not a directory (make one with aekit pack)")
    index = _read_index(root)
    shape = tuple(index["shape"])
    parts = [_open_shard(root, entry, shape) for entry in index["shards"]]
    n = sum(len(p) for p in parts)
    split = index["split"]
    if split["pool"] + split["test"] != n:
        raise AekitError(
            f"shards: {root / INDEX} splits {split['pool']} + {split['test']} rows, but its "
            f"shards hold {n}; the index does not belong to these shards: pack again"
        )
    labels = _read_labels(root, index, n)
    rows = ShardRows(parts)
    everything = ImageSet(rows, labels)
    n_pool = split["pool"]
    pool = everything.subset(np.arange(n_pool)) if split["test"] else everything
    test = everything.subset(np.arange(n_pool, n)) if split["test"] else None
    classes = None if index["classes"] is None else tuple(index["classes"])
    if classes is not None and labels is not None and len(labels) and labels.max() >= len(classes):
        raise AekitError(
            f"shards: {root / LABELS} has label {labels.max()} for {len(classes)} classes"
        )
    return Pack(pool, test, classes, str(index["source"]), shape)  # type: ignore[arg-type]


def _read_index(root: Path) -> dict[str, Any]:
    path = root / INDEX
    if not path.is_file():
        raise AekitError(
            f"shards: {root} has no {INDEX}; it is not a pack written by aekit pack "
            "(or the pack was interrupted)"
        )
    try:
        index = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise AekitError(f"shards: cannot read {path}: {e}") from None
    if not isinstance(index, dict) or index.get("format") != FORMAT:
        raise AekitError(f"shards: {path} is not an aekit shard index (no format {FORMAT!r})")
    if index.get("version") != INDEX_VERSION:
        raise AekitError(
            f"shards: {path} has index version {index.get('version')!r}; this aekit reads "
            f"version {INDEX_VERSION}: pack the images again with this aekit"
        )
    problem = _index_problem(index)
    if problem:
        raise AekitError(f"shards: {path} is damaged: {problem}")
    return index


def _is_count(x: object) -> bool:
    return isinstance(x, int) and not isinstance(x, bool) and x >= 0


def _index_problem(index: dict[str, Any]) -> str | None:
    """What is malformed in the index, or None (the shapes of the fields, not the files)."""
    shape = index.get("shape")
    if not (
        isinstance(shape, list)
        and len(shape) == 3
        and all(_is_count(s) and s > 0 for s in shape)
        and shape[0] in (1, 3)
    ):
        return f"shape must be [C, H, W] with C 1 or 3, got {shape!r}"
    if index.get("dtype") != "uint8":
        return f"dtype must be 'uint8', got {index.get('dtype')!r}"
    shards = index.get("shards")
    if not isinstance(shards, list) or not shards:
        return "shards must be a non-empty list"
    for k, entry in enumerate(shards):
        if not (
            isinstance(entry, dict)
            and entry.get("file") == shard_name(k)
            and _is_count(entry.get("rows"))
            and _is_count(entry.get("bytes"))
        ):
            return f"shard entry {k} must be {{file: {shard_name(k)!r}, rows, bytes, ...}}"
    if index.get("rows") != sum(entry["rows"] for entry in shards):
        return f"rows {index.get('rows')!r} is not the sum of the shards' rows"
    split = index.get("split")
    counts = isinstance(split, dict) and _is_count(split.get("pool"))
    if not (counts and _is_count(split.get("test"))):
        return "split must give the pool and test row counts"
    if split["pool"] == 0:
        return "the split's pool is empty"
    classes = index.get("classes")
    if classes is not None and not (
        isinstance(classes, list) and classes and all(isinstance(c, str) for c in classes)
    ):
        return "classes must be a list of names or null"
    labels = index.get("labels")
    if labels is not None and not (
        isinstance(labels, dict) and labels.get("file") == LABELS and _is_count(labels.get("bytes"))
    ):
        return f"labels must be {{file: {LABELS!r}, bytes, ...}} or null"
    return None


def _npy_header(path: Path) -> tuple[tuple[int, ...], np.dtype, int]:
    """(shape, dtype, header length) of a .npy file, reading only its header."""
    try:
        with open(path, "rb") as f:
            version = np.lib.format.read_magic(f)
            reader = {
                (1, 0): np.lib.format.read_array_header_1_0,
                (2, 0): np.lib.format.read_array_header_2_0,
            }.get(version)
            if reader is None:
                raise ValueError(f".npy version {version} is not supported")
            shape, fortran, dtype = reader(f)
            if fortran:
                raise ValueError("it is Fortran-ordered")
            return tuple(shape), dtype, f.tell()
    except (OSError, ValueError, EOFError, SyntaxError) as e:
        raise AekitError(f"shards: cannot read {path} as .npy: {e}") from None


def _check_file(path: Path, entry: dict[str, Any], shape: tuple[int, ...], dtype: str) -> int:
    """Check `path` against its index entry and its own header; the header's length."""
    if not path.is_file():
        raise AekitError(f"shards: {path.name} is missing from {path.parent}; pack again")
    size = path.stat().st_size
    got_shape, got_dtype, header = _npy_header(path)
    if got_dtype != np.dtype(dtype) or got_shape != shape:
        raise AekitError(
            f"shards: {path} holds {got_dtype} {got_shape}, but the index says {dtype} {shape}"
        )
    need = header + math.prod(shape) * np.dtype(dtype).itemsize
    if size != entry["bytes"] or size != need:
        what = "truncated" if size < need else "the wrong size"
        raise AekitError(
            f"shards: {path} is {what}: {size} bytes, its header needs {need} and the index "
            f"says {entry['bytes']}; copy or pack it again"
        )
    return header


def _open_shard(root: Path, entry: dict[str, Any], shape: tuple[int, ...]) -> np.ndarray:
    path = root / entry["file"]
    _check_file(path, entry, (entry["rows"], *shape), "uint8")
    if entry["rows"] == 0:
        return np.empty((0, *shape), dtype=np.uint8)
    try:
        return np.load(path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError) as e:
        raise AekitError(f"shards: cannot map {path}: {e}") from None


def _read_labels(root: Path, index: dict[str, Any], n: int) -> np.ndarray | None:
    entry = index["labels"]
    if entry is None:
        return None
    path = root / LABELS
    _check_file(path, entry, (n,), "int64")
    labels = np.load(path, allow_pickle=False)
    if len(labels) and labels.min() < 0:
        raise AekitError(f"shards: {path} holds negative labels")
    return np.ascontiguousarray(labels)
