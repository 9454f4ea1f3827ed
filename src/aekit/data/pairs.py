"""(input, target) builders: what a model learns to undo is a property of the data, not the model.

A task takes a clean float batch (B, C, H, W) in [0, 1] and a torch.Generator (so every random
draw is seeded and resumable) and returns (input, target). Plain autoencoding is `identity`;
denoising and super-resolution tasks plug in here (DESIGN.md: data tasks, not model subclasses).
"""

from __future__ import annotations

import difflib
from collections.abc import Callable

import torch

from aekit.errors import AekitError

Task = Callable[[torch.Tensor, torch.Generator], tuple[torch.Tensor, torch.Tensor]]


def identity(x: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Reconstruct the input itself: the plain autoencoder."""
    return x, x


TASKS: dict[str, Task] = {"identity": identity}


def build_task(name: str) -> Task:
    if name not in TASKS:
        close = difflib.get_close_matches(name, TASKS, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise AekitError(f"unknown task {name!r}{hint}; known tasks: {', '.join(TASKS)}")
    return TASKS[name]
