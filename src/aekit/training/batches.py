"""What the trainer feeds a step: batch order, and raw batches on the training device.

Rows stay as the dataset stores them (uint8 is a quarter of float32's bytes)
and each batch is gathered by index, with no
DataLoader and no per-item Python. On a GPU the whole uint8 array is copied there once when it
fits in a quarter of the free device memory (Fashion-MNIST's training split is 47 MB), so a
batch is one index_select on the device and nothing crosses the bus per step; otherwise each
batch is gathered on the host straight into pinned memory and copied without blocking, so the
copy overlaps the previous step's kernels.

Rows larger than memory (a `shards:` dataset's memory-mapped files) are not an ndarray but an
object that reads rows only where indexed: ``len(rows)``, ``rows.shape``, and ``rows[index]``
for an int64 index array or a slice, returning a new ndarray. Such rows are never gathered
whole: each batch reads its own rows on the host (``rows[index]``) and goes to the device.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

# The share of free GPU memory the uint8 dataset may take; the rest is for the model, its
# optimizer state and activations.
RESIDENT_SHARE = 4


def derived_seed(seed: int, *parts: int) -> int:
    """A distinct 63-bit seed for each (seed, epoch, stream) so streams never overlap."""
    return int(np.random.SeedSequence([seed, *parts]).generate_state(1, np.uint64)[0] >> 1)


def batch_order(n: int, seed: int, epoch: int) -> torch.Tensor:
    """The permutation of n training indices for one epoch: a pure function of (seed, epoch)."""
    generator = torch.Generator().manual_seed(derived_seed(seed, epoch, 0))
    return torch.randperm(n, generator=generator)


def fits_on_device(nbytes: int, device: torch.device) -> bool:
    """Whether `nbytes` of data should live on `device` for the whole run."""
    if device.type != "cuda":  # the CPU holds it already; MPS shares host memory anyway
        return False
    free, _ = torch.cuda.mem_get_info(device)
    return nbytes <= free // RESIDENT_SHARE


class DeviceBatches:
    """Rows (N, ...) as stored and optional labels, served as batches on `device`. `rows` is
    an ndarray, or rows read where indexed (the module docstring), gathered batch by batch."""

    def __init__(self, rows: Any, labels: np.ndarray | None, device: torch.device):
        self.device = device
        self.lazy = not isinstance(rows, np.ndarray)
        if self.lazy:  # larger than memory, perhaps: read each batch's rows when it is due
            self.resident, self.rows = False, rows
            self.labels = None if labels is None else torch.from_numpy(labels)
            return
        host = torch.from_numpy(np.ascontiguousarray(rows))
        self.resident = device.type == "cpu" or fits_on_device(host.nbytes, device)
        self.rows = host.to(device) if self.resident else host
        self.labels = None if labels is None else torch.from_numpy(labels).to(self.rows.device)

    def __len__(self) -> int:
        return len(self.rows)

    def place(self, order: torch.Tensor) -> torch.Tensor:
        """An epoch's index order, put where the gathering happens (once an epoch)."""
        return order if self.lazy else order.to(self.rows.device)

    def gather(self, index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(raw batch, labels) for `index` (from `place`), both on the training device."""
        if self.resident:  # index_select: about 7x faster than rows[index] for uint8 on a CPU
            labels = None if self.labels is None else self.labels.index_select(0, index)
            return self.rows.index_select(0, index), labels
        labels = None if self.labels is None else self._copied(self.labels, index)
        if self.lazy:
            return self._sent(torch.from_numpy(self.rows[index.numpy()])), labels
        return self._copied(self.rows, index), labels

    def slice(self, start: int, stop: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The contiguous batch [start, stop) on the training device, for validation."""
        rows = self.rows[start:stop]
        batch = (torch.from_numpy(rows) if self.lazy else rows).to(self.device)
        labels = None if self.labels is None else self.labels[start:stop].to(self.device)
        return batch, labels

    def _sent(self, batch: torch.Tensor) -> torch.Tensor:
        """A host batch on the device: through pinned memory, without blocking, on CUDA."""
        if self.device.type != "cuda":
            return batch.to(self.device)
        return batch.pin_memory().to(self.device, non_blocking=True)

    def _copied(self, host: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        """host[index] on the device: gathered into pinned memory, copied without blocking."""
        pinned = self.device.type == "cuda"
        out = torch.empty((index.shape[0], *host.shape[1:]), dtype=host.dtype, pin_memory=pinned)
        torch.index_select(host, 0, index, out=out)
        # torch's pinned-memory allocator keeps `out` alive until the copy has finished.
        return out.to(self.device, non_blocking=pinned)
