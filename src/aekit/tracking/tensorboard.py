"""`--log tensorboard`: event files in RUN/tensorboard, so `tensorboard --logdir runs` finds
every run under runs/ (the `track` extra: torch's SummaryWriter needs the tensorboard package).

A resumed run opens a new event file in the same folder with ``purge_step`` = the first step it
will log: TensorBoard then drops what a killed process logged past the checkpoint it resumed
from, so each step is shown once, with the values the finished run has in metrics.jsonl.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from aekit.extras import require

FOLDER = "tensorboard"
FLUSH_SECS = 10  # SummaryWriter's default is 120: too long to watch a short run


class TensorBoard:
    def __init__(self, run_dir: Path) -> None:
        self.log_dir = Path(run_dir) / FOLDER
        self.writer: Any = None

    def start(self, done: int, hyperparameters: Mapping[str, Any]) -> None:
        board = require("torch.utils.tensorboard", "track", "--log tensorboard")
        self.writer = board.SummaryWriter(
            str(self.log_dir), purge_step=done + 1, flush_secs=FLUSH_SECS
        )
        if done == 0:  # a resumed run's settings are the saved run's: written once
            self._hyperparameters(hyperparameters)

    def _hyperparameters(self, table: Mapping[str, Any]) -> None:
        """The HParams dashboard's entry (in this run's own event file, not the sub-folder
        `add_hparams` makes), and the whole table as text for the Text dashboard."""
        from torch.utils.tensorboard.summary import hparams

        # Compared against the final loss in the HParams table.
        metrics = {"epoch/val_loss": None, "epoch/train_loss": None}
        # torch files a bool as the number 1.0 or 0.0; as text it reads as the setting
        shown = {k: json.dumps(v) if isinstance(v, bool) else v for k, v in table.items()}
        for summary in hparams(shown, metrics):
            self.writer.file_writer.add_summary(summary, 0)
        text = json.dumps(dict(table), indent=2)
        self.writer.add_text("config", f"```\n{text}\n```", 0)  # markdown: keep it verbatim

    def scalars(self, step: int, values: Mapping[str, float]) -> None:
        for name, value in values.items():
            self.writer.add_scalar(name, value, step)

    def image(self, step: int, name: str, image: Any) -> None:
        self.writer.add_image(name, image, step, dataformats="HWC")

    def flush(self) -> None:
        self.writer.flush()

    def close(self, ok: bool) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None
