"""Loss sums that stay on the device until a log point, the validation pass, the epoch line.

Every `float(loss)` makes the CPU wait for the device to finish all queued work, so a loop that
reads its loss each step cannot queue step k+1 while step k runs (nanoGPT's comment at its log
interval). `Accumulator` keeps each step's detached loss terms as device tensors and reads them
back in one transfer when asked -- at log points, before every checkpoint, at an epoch's end --
and then adds them up in Python floats in step order. The weighted terms are formed in float64,
where `value * batch_size` of a float32 value is exact, so the sums, and the epoch metrics, are
bit for bit those of a loop that read every step. On a CPU, where a read waits for nothing,
the terms are read as plain floats instead: building the tensors cost about 1 ms a step.
"""

from __future__ import annotations

from typing import Any

import torch

from aekit.runtime.runtime import Runtime
from aekit.training.batches import DeviceBatches, derived_seed
from aekit.training.steps import batch_losses


class Accumulator:
    """Sums of per-batch means weighted by batch size; `read()` and `means()` are the one
    reduction point (with several processes, through `runtime.all_reduce_sums`)."""

    def __init__(
        self,
        sums: dict[str, float] | None = None,
        count: int = 0,
        runtime: Runtime | None = None,
    ) -> None:
        self.sums = dict(sums or {})
        self.count = count
        # One process has nothing to combine: skip the hook, and on a CPU the tensors too.
        self.runtime = runtime if runtime is not None and runtime.world_size > 1 else None
        self.pending: list[tuple[dict[str, torch.Tensor], int]] = []

    def add(self, values: dict[str, torch.Tensor], n: int) -> None:
        """Note one batch's mean terms (0-dim tensors, left where they are) and its size."""
        self.pending.append((values, n))

    def read(self) -> list[dict[str, float]]:
        """Read every pending batch back in one transfer, add it to the sums in order, and
        return each batch's terms in order (the trainer checks each step's loss)."""
        if not self.pending:
            return []
        keys = list(self.pending[0][0])
        table = self._table(keys)
        self.pending = []
        batches = []
        for *weighted, n in table:
            for key, value in zip(keys, weighted, strict=True):
                self.sums[key] = self.sums.get(key, 0.0) + value
            self.count += int(n)
            batches.append({key: value / n for key, value in zip(keys, weighted, strict=True)})
        return batches

    def _table(self, keys: list[str]) -> list[list[float]]:
        """One row per pending batch: each term times the batch size, then the batch size."""
        device = self.pending[0][0][keys[0]].device
        if device.type == "cpu" and self.runtime is None:  # a CPU read waits for nothing
            return [[float(v[k]) * n for k in keys] + [n] for v, n in self.pending]
        dtype = torch.float32 if device.type == "mps" else torch.float64  # MPS has no float64
        rows = torch.stack(  # (batches, terms), on the device the losses are on
            [torch.stack([v[k].detach().reshape(()) for k in keys]) for v, _ in self.pending]
        ).to(dtype)
        if device.type == "mps":
            rows = rows.cpu()
        sizes = torch.tensor([n for _, n in self.pending], dtype=torch.float64, device=rows.device)
        table = torch.cat([rows.double() * sizes[:, None], sizes[:, None]], dim=1)
        if self.runtime is not None:
            table = self.runtime.all_reduce_sums(table)
        return table.tolist()  # the one device-to-host transfer

    def means(self) -> dict[str, float]:
        self.read()
        return {k: v / max(self.count, 1) for k, v in self.sums.items()}


def epoch_line(row: dict[str, Any], epochs: int, noun: str = "rows") -> str:
    """The line printed after each epoch, from its metrics row; `noun` names what the rows are
    (the split's noun, e.g. windows), for the rate (the row's key stays images_per_s)."""
    parts = [f"epoch {row['epoch']}/{epochs}", f"train {row['train_loss']:.4g}"]
    if "val_loss" in row:
        parts.append(f"val {row['val_loss']:.4g}")
    # The loss's parts when there are several (a VAE's kl, an AAE's discriminator accuracy):
    # a KL collapsing to 0 or a discriminator stuck at chance shows here, not just in the file.
    terms = {k[len("train_") :]: v for k, v in row.items() if k.startswith("train_")}
    if len(terms) > 2:
        parts.append(" ".join(f"{k} {v:.4g}" for k, v in terms.items() if k != "loss"))
    parts.append(f"{row['images_per_s']:,.0f} {noun}/s  {row['seconds']:.1f}s")
    return "  ".join(parts)


@torch.no_grad()
def validation_losses(
    model: torch.nn.Module,
    batches: DeviceBatches,
    task,
    seed: int,
    runtime: Runtime,
    batch_size: int = 1024,
) -> dict[str, float]:
    """Mean loss parts over a held-out set; the task's randomness is the same every epoch.
    `task` takes raw rows (modalities' `prepared_task`).

    With several processes each rank makes every batch's pairs (so the task's draws are those
    of one process) and scores its own slice of them; the sums are all-reduced, so the means
    are over the whole set. A rank whose slice of a short last batch is empty scores the whole
    batch with weight 0, so every rank adds the same number of rows to its table."""
    model.eval()
    generator = torch.Generator().manual_seed(derived_seed(seed, 0, 2))
    acc = Accumulator(runtime=runtime)
    for start in range(0, len(batches), batch_size):
        raw, y = batches.slice(start, start + batch_size)
        inputs, target = task(raw, generator)
        rows = raw.shape[0]
        if runtime.world_size > 1:
            mine = runtime.shard(rows)
            rows = mine.stop - mine.start
            if rows:
                inputs, target = inputs[mine], target[mine]
                y = None if y is None else y[mine]
        with runtime.autocast():
            out = model(inputs, y)
        acc.add(batch_losses(model, out, target), rows)
    return acc.means()
