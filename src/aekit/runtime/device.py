"""Which device a command runs on: `--device auto|cpu|cuda|cuda:N|mps`, checked against the machine.

"auto" prefers CUDA, then Apple's MPS, then the CPU. Asking for a device the machine lacks is one
AekitError naming what is there, before any data is loaded, rather than a torch error from deep
inside the first step. The device is a runtime choice, never saved in a run's config: a run
trained on a GPU resumes, evaluates and serves on a CPU.
"""

from __future__ import annotations

import torch

from aekit.errors import AekitError

DEVICE_CHOICES = "auto, cpu, cuda, cuda:N or mps"


def available_devices() -> list[str]:
    """What this machine offers, in --device spelling: cpu, then each CUDA device, then mps."""
    found = ["cpu"]
    if torch.cuda.is_available():
        count = torch.cuda.device_count()
        found += ["cuda"] if count == 1 else [f"cuda:{i}" for i in range(count)]
    if torch.backends.mps.is_available():
        found.append("mps")
    return found


def resolve_device(spec: str | torch.device = "auto") -> torch.device:
    """`spec` as a torch.device this machine has; AekitError naming the devices there are.

    A torch.device passes through when it needs no hardware (cpu, meta); cuda and mps are
    checked as the strings are.
    """
    if isinstance(spec, torch.device):
        if spec.type not in ("cuda", "mps"):
            return spec
        spec = str(spec)
    text = spec.strip().lower()
    if text == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", torch.cuda.current_device())
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(text)
    except (RuntimeError, ValueError):
        device = None
    if device is None or device.type not in ("cpu", "cuda", "mps"):
        raise AekitError(f"--device {spec}: expected {DEVICE_CHOICES}")
    lacking = None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            lacking = "has no CUDA device"
        elif device.index is not None and device.index >= torch.cuda.device_count():
            count = torch.cuda.device_count()
            lacking = f"has {count} CUDA device{'s' * (count > 1)}"
        else:  # a bare "cuda" means the current device; naming it keeps messages exact
            device = torch.device("cuda", device.index or torch.cuda.current_device())
    elif device.type == "mps" and not torch.backends.mps.is_available():
        lacking = "has no MPS device"
    elif device.type == "cpu" and device.index not in (None, 0):
        lacking = "has one CPU device (cpu)"
    if lacking:
        available = ", ".join(available_devices())
        raise AekitError(f"--device {spec}: this machine {lacking}; available: {available}")
    return device


def describe_device(spec: str | torch.device, device: torch.device) -> str:
    """One line for stderr: where a run trains and, for "auto", why there."""
    auto = str(spec).strip().lower() == "auto"
    if device.type == "cuda":
        why = torch.cuda.get_device_name(device)
    elif auto:
        why = "no CUDA device" if device.type == "mps" else "no CUDA or MPS device"
    else:
        return f"training on {device}"
    return f"training on {device} ({'auto: ' * auto}{why})"
