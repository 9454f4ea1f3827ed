"""Random draws that work on any device (diffusers' `randn_tensor`).

A `torch.Generator` lives on one device and can only fill tensors there, so a seeded CPU
generator (what the CLI's --seed makes) cannot draw a CUDA tensor directly. Drawing on the
generator's device and then moving the result works everywhere, and gives the same numbers for
the same seed whichever device the model is on. Without a generator the draw comes from the
target device's own global generator (seeded by torch.manual_seed, kept in checkpoints by the
runtime), so nothing is made on the CPU and copied when the model lives elsewhere.
"""

from __future__ import annotations

from collections.abc import Sequence

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
