"""Precision and memory-format choices, per device type.

bf16 autocast pays off only where the hardware multiplies bf16 natively: on a CPU that means
AVX512-BF16 or AMX (elsewhere it is emulated and slower than fp32), so "auto" looks at the CPU
flags; on CUDA, Ampere and newer (`torch.cuda.is_bf16_supported` without emulation); on Apple's
MPS "auto" stays fp32, whose bf16 kernels are neither complete nor faster across torch versions.
"""

from __future__ import annotations

import contextlib
import os
from functools import cache
from pathlib import Path

import torch

from aekit.errors import AekitError


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


def resolve_precision(precision: str, device_type: str = "cpu") -> str:
    """'auto' -> 'bf16' or 'fp32' for this machine's `device_type`; explicit choices pass
    through."""
    if precision != "auto":
        return precision
    if device_type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported(including_emulation=False) else "fp32"
    if device_type == "cpu":
        return "bf16" if cpu_has_bf16() else "fp32"
    return "fp32"


def autocast(precision: str, device_type: str = "cpu") -> contextlib.AbstractContextManager:
    """The forward-pass context: bf16 autocast on `device_type`, or nothing. Losses are computed
    in fp32 outside."""
    if precision == "bf16":
        return torch.autocast(device_type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def choose_threads(requested: int | None = None) -> tuple[int, str]:
    """Torch threads for a training process (`aekit demo`, `aekit train --threads auto`), and
    why. Two threads on two cores that other CPU-bound jobs also use stall each other (each op
    waits for a descheduled thread): measured here, a conv-ae training step ran at 31 images/s
    with 2 threads and 296 with 1 while other jobs ran, against 5,000+ with 2 on an idle
    machine. So by default use the cores the 1-minute load average leaves free, at least one."""
    if requested is not None:
        if requested < 1:
            raise AekitError(f"--threads must be at least 1, got {requested}")
        return requested, "as asked"
    cores = torch.get_num_threads()
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):  # no load average on this platform
        return cores, f"{cores} cores"
    threads = max(1, min(cores, round(cores - load)))
    return threads, f"load average {load:.1f} on {cores} cores"
