"""What the trainer tells an experiment tracker: the trainer's half of `--log` (aekit.tracking).

The trainer hands a `Tracker` the same numbers it reads anyway, at the moments it reads them, so
tracking costs no extra device sync and sees exactly what the run directory gets:

* `start(done)` once `fit` knows where it starts: `done` global steps are behind it (0 for a
  new run; a resumed run's checkpoint position), so a tracker can drop what it logged past that
  point before a kill (TensorBoard's purge_step);
* `log_step(step, values)` for every step, at the log point that read its loss parts back
  (`train.log_every`), with the step's learning rate and, on the last step of each read, the
  rows per second so far this epoch;
* `log_epoch(step, row, model)` after an epoch's checkpoint is saved: `row` is the line just
  written to metrics.jsonl (which stays the source of truth), `model` the trained model, so a
  tracker may draw what it makes of a few rows (the CLI's trackers ask the run's modality).

Steps count from 1 (`step` steps are done), so an epoch's row lands on the same step as its last
step's losses. Only the writer rank calls a tracker (`Runtime.is_writer`), and nothing a tracker
does may draw from torch's random generators or change the model: the run must be the same run
with tracking or without it. Whoever made the tracker closes it (aekit.runs does).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import torch


class Tracker(Protocol):
    def start(self, done: int) -> None: ...

    def log_step(self, step: int, values: Mapping[str, float]) -> None: ...

    def log_epoch(self, step: int, row: Mapping[str, Any], model: torch.nn.Module) -> None: ...
