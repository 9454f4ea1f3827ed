"""Precision and memory-format choices for CPU training.

bf16 autocast pays off only where the CPU multiplies bf16 natively (AVX512-BF16 or AMX); on
other CPUs it emulates and is slower than fp32, so "auto" looks at the CPU flags.
"""

from __future__ import annotations

import contextlib
from functools import cache
from pathlib import Path

import torch


@cache
def cpu_has_bf16() -> bool:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    flags = set()
    for line in text.splitlines():
        if line.startswith("flags"):
            flags.update(line.split(":", 1)[1].split())
            break
    return bool(flags & {"avx512_bf16", "amx_bf16"})


def resolve_precision(precision: str) -> str:
    """'auto' -> 'bf16' or 'fp32' for this machine; explicit choices pass through."""
    if precision == "auto":
        return "bf16" if cpu_has_bf16() else "fp32"
    return precision


def autocast(precision: str) -> contextlib.AbstractContextManager:
    """The forward-pass context: bf16 autocast or nothing. Losses are computed in fp32 outside."""
    if precision == "bf16":
        return torch.autocast("cpu", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def to_model_input(batch_u8: torch.Tensor, channels_last: bool) -> torch.Tensor:
    """uint8 (B, C, H, W) -> float32 in [0, 1], in the memory format the model runs in."""
    x = batch_u8.float().div_(255.0)
    if channels_last and x.dim() == 4:
        x = x.contiguous(memory_format=torch.channels_last)
    return x
