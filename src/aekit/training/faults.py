"""What stops a run before its last epoch: Ctrl-C, and numbers that stop being numbers.

Both end the same way -- at a step boundary, with only good state on disk -- so the run can be
resumed (Ctrl-C) or restarted with a lower learning rate (NaN) from its last checkpoint.
"""

from __future__ import annotations

import math
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import torch


class StopFlag:
    requested = False


@contextmanager
def stop_on_first_ctrl_c() -> Iterator[StopFlag]:
    """The first Ctrl-C asks the loop to stop at the next step boundary (so no optimizer step is
    cut in half and the checkpoint is consistent); a second one interrupts at once."""
    flag = StopFlag()
    if threading.current_thread() is not threading.main_thread():
        yield flag
        return

    def handler(signum, frame):
        if flag.requested:
            raise KeyboardInterrupt
        flag.requested = True

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield flag
    finally:
        signal.signal(signal.SIGINT, previous)


def non_finite_weight(model: torch.nn.Module) -> str | None:
    """The name of the first parameter holding a NaN or an infinity, else None.

    A finite loss can come with an update that overflowed some weight (the loss only shows it
    one step later), and a checkpoint must never hold such weights, so this runs before each
    save; it reads every parameter once, which is cheap next to writing them, and reads the
    answers back in one transfer (one device sync, not one per parameter).
    """
    named = list(model.named_parameters())
    if not named:
        return None
    finite = torch.stack([torch.isfinite(param).all() for _, param in named]).tolist()
    return next((name for (name, _), ok in zip(named, finite, strict=True) if not ok), None)


# A loss this many times the untrained model's (the run's first step) means the run diverged
# even while every number is finite: AdamW at lr=1e4 takes a small conv-ae's BCE from about 150
# to 1e10 without a NaN. aekit's losses sum non-negative per-pixel terms (plus a KL >= 0), and
# the untrained model is the no-skill baseline, so no healthy run comes within orders of
# magnitude of this. A first loss <= 0 (a custom loss that can be negative) turns the ratio
# off, leaving the NaN/inf check.
DIVERGENCE_FACTOR = 1000.0


def divergence(loss: float, first_loss: float | None) -> str | None:
    """What is wrong with a step's loss, or None: non-finite, or far above the first step's."""
    if not math.isfinite(loss):
        return f"loss is {loss}"
    if first_loss is not None and first_loss > 0 and loss > DIVERGENCE_FACTOR * first_loss:
        return f"loss is {loss:.4g}, over {DIVERGENCE_FACTOR:g}x the first step's {first_loss:.4g}"
    return None
