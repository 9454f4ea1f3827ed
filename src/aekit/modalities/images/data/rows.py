"""Rows of several memory-mapped arrays seen as one (N, ...) array, read only where indexed.

`shards:DIR` datasets (shards.py) keep their images in many ``.npy`` files, each opened with
``np.load(mmap_mode="r")``: nothing is read until a row is indexed, and what is read stays in
the page cache, which the kernel drops under pressure. `ShardRows` puts them end to end and
takes a subset of positions (a split) without copying anything, so a training split of 20 GB
costs its index array (8 bytes a row) until batches are gathered from it.

Indexing follows numpy where it can, with one difference: every read returns a new in-memory
ndarray (slices too), since a view into several files is not an array. `take` is the lazy way
to select rows. ``np.asarray(rows)`` reads every row: fine for a small test split, never done
by the trainer (aekit.training.batches gathers each batch by index).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


class ShardRows:
    """The rows of `parts` end to end (all of one row shape and dtype), or those at `index`."""

    def __init__(self, parts: Sequence[np.ndarray], index: np.ndarray | None = None):
        if not parts:
            raise ValueError("ShardRows needs at least one array")
        first = parts[0]
        for p in parts:
            if p.shape[1:] != first.shape[1:] or p.dtype != first.dtype:
                raise ValueError(
                    f"ShardRows parts differ: {p.dtype} {p.shape[1:]} vs {first.dtype} "
                    f"{first.shape[1:]}"
                )
        self._parts = list(parts)
        # starts[k] is the position of part k's first row; starts[-1] the total
        self._starts = np.cumsum([0, *(len(p) for p in parts)], dtype=np.int64)
        self._index = None if index is None else np.ascontiguousarray(index, dtype=np.int64)

    # -- what it looks like ------------------------------------------------------------------

    @property
    def shape(self) -> tuple[int, ...]:
        n = int(self._starts[-1]) if self._index is None else len(self._index)
        return (n, *self._parts[0].shape[1:])

    @property
    def dtype(self) -> np.dtype:
        return self._parts[0].dtype

    @property
    def ndim(self) -> int:
        return self._parts[0].ndim

    @property
    def nbytes(self) -> int:
        """The bytes all rows take once read (what ``np.asarray`` would allocate)."""
        return int(np.prod(self.shape, dtype=np.int64)) * self.dtype.itemsize

    def __len__(self) -> int:
        return self.shape[0]

    def __repr__(self) -> str:
        return f"ShardRows({len(self._parts)} parts, shape={self.shape}, dtype={self.dtype})"

    # -- selecting and reading -----------------------------------------------------------------

    def take(self, index: np.ndarray) -> ShardRows:
        """The rows at `index` (integers or a boolean mask), still unread."""
        return ShardRows(self._parts, self._positions(index))

    def __getitem__(self, key: Any) -> np.ndarray:
        if isinstance(key, int | np.integer):
            n = len(self)
            if not -n <= key < n:
                raise IndexError(f"row {key} is out of range for {n} rows")
            return self._read(self._positions(np.array([key]))[:1])[0]
        if isinstance(key, slice):
            if self._index is not None:
                return self._read(self._index[key])
            start, stop, step = key.indices(len(self))
            if step == 1:
                return self._read_range(start, max(start, stop))
            return self._read(np.arange(start, stop, step, dtype=np.int64))
        if isinstance(key, tuple):  # rows[i, ...], rows[:, 0]: select rows, then index within
            rows = self[key[0]]
            return rows[(slice(None), *key[1:])] if rows.ndim == self.ndim else rows[key[1:]]
        return self._read(self._positions(key))

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        out = self._read_range(0, len(self)) if self._index is None else self._read(self._index)
        return out if dtype is None else out.astype(dtype, copy=False)

    def _positions(self, key: Any) -> np.ndarray:
        """Positions in the concatenation of `parts` for `key` (integers or a mask) over self."""
        key = np.asarray(key)
        n = len(self)
        if key.dtype == bool:
            if key.shape != (n,):
                raise IndexError(f"boolean index of shape {key.shape} for {n} rows")
            key = np.flatnonzero(key)
        elif key.dtype.kind not in "iu":
            raise IndexError(f"rows are indexed by integers or a boolean mask, not {key.dtype}")
        key = key.astype(np.int64, copy=False).reshape(-1)
        if key.size and (key.min() < -n or key.max() >= n):
            bad = key[(key < -n) | (key >= n)][0]
            raise IndexError(f"row {bad} is out of range for {n} rows")
        key = np.where(key < 0, key + n, key)
        return key if self._index is None else self._index[key]

    def _read(self, positions: np.ndarray) -> np.ndarray:
        """The rows at `positions` of the concatenation, as one new array in their order."""
        out = np.empty((len(positions), *self._parts[0].shape[1:]), dtype=self.dtype)
        part_of = np.searchsorted(self._starts, positions, side="right") - 1
        for k in np.unique(part_of):
            mine = part_of == k
            out[mine] = self._parts[k][positions[mine] - self._starts[k]]
        return out

    def _read_range(self, start: int, stop: int) -> np.ndarray:
        """Rows [start, stop) of the concatenation, copied part by part."""
        out = np.empty((stop - start, *self._parts[0].shape[1:]), dtype=self.dtype)
        for k, part in enumerate(self._parts):
            lo, hi = max(start, int(self._starts[k])), min(stop, int(self._starts[k + 1]))
            if lo < hi:
                out[lo - start : hi - start] = part[lo - self._starts[k] : hi - self._starts[k]]
        return out
