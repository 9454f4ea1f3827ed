"""Random draws that work on any device (diffusers' `randn_tensor`).

A `torch.Generator` lives on one device and can only fill tensors there, so a seeded CPU
generator (what the CLI's --seed makes) cannot draw a CUDA tensor directly. Drawing on the
generator's device and then moving the result works everywhere, and gives the same numbers for
the same seed whichever device the model is on. Without a generator the draw comes from the
target device's own global generator (seeded by torch.manual_seed, kept in checkpoints by the
runtime), so nothing is made on the CPU and copied when the model lives elsewhere.

Draws with one row per batch row that a model makes for itself in training (a VAE's
reparameterisation noise, the AAE's prior draws) go through `randn_rows`. The trainer opens a
`row_draws` scope around each step (through `Runtime.row_draws`): inside it such a draw is made
for the whole *global* batch from the step's generator, seeded from (seed, step), and this
process keeps its own rows, so global row i gets the same noise whether 1 process or N trained
the run (issue 12; docs/distributed.md). The scope is a context variable, like torch's autocast
state, because the draws happen deep inside `forward`, whose signature is the model contract.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

import torch


def randn(
    shape: Sequence[int],
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
    dtype: torch.dtype | None = None,
) -> torch.Tensor:
    """Standard normal draws of `shape` on `device` (default: the generator's, else the CPU),
    drawn with `generator` on its own device."""
    target = torch.device(device) if device is not None else None
    if generator is None:
        return torch.randn(tuple(shape), device=target, dtype=dtype)
    draws = torch.randn(tuple(shape), generator=generator, device=generator.device, dtype=dtype)
    return draws if target is None else draws.to(target)


def module_device(module: torch.nn.Module) -> torch.device:
    """Where a module's parameters (or, without any, its buffers) live; the CPU for neither.
    New tensors a model makes for itself go there, never to a hard-wired device."""
    for tensor in module.parameters():
        return tensor.device
    for tensor in module.buffers():
        return tensor.device
    return torch.device("cpu")


@dataclass(frozen=True)
class RowDraws:
    """A step's per-row draws: made for `rows` global rows from `generator`; `mine` are this
    process's rows of them (all of them with one process)."""

    generator: torch.Generator
    rows: int
    mine: slice


_ROW_DRAWS: ContextVar[RowDraws | None] = ContextVar("aekit_row_draws", default=None)


@contextmanager
def row_draws(generator: torch.Generator, rows: int, mine: slice | None = None) -> Iterator[None]:
    """Within this scope `randn_rows` draws for all `rows` rows of a global batch from
    `generator` and keeps the rows `mine` (default: all)."""
    token = _ROW_DRAWS.set(RowDraws(generator, rows, slice(0, rows) if mine is None else mine))
    try:
        yield
    finally:
        _ROW_DRAWS.reset(token)


def randn_rows(
    shape: Sequence[int],
    device: torch.device | str | None = None,
    dtype: torch.dtype | None = None,
) -> torch.Tensor:
    """Standard normal draws of `shape`, whose first dimension is the batch's rows. Inside a
    `row_draws` scope: drawn for the scope's global rows from its generator, this process's
    rows kept; outside (a model called by hand in training mode): from the device's global
    generator, as `randn` without a generator."""
    scope = _ROW_DRAWS.get()
    if scope is None:
        return randn(shape, None, device, dtype)
    mine = scope.mine.stop - scope.mine.start
    if shape[0] != mine:  # a draw not per row of this step's batch: a bug in the caller
        raise ValueError(f"randn_rows of shape {tuple(shape)} in a step on {mine} rows")
    return randn((scope.rows, *shape[1:]), scope.generator, device, dtype)[scope.mine]
