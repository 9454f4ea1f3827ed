"""--device: auto picks CUDA, then MPS, then the CPU; a device the machine lacks is one line
naming what is there. GPUs are simulated by monkeypatching what torch reports."""

from __future__ import annotations

import pytest
import torch

from aekit.errors import AekitError
from aekit.runtime.device import available_devices, describe_device, resolve_device


@pytest.fixture
def machine(monkeypatch):
    """Make torch report `cuda` CUDA devices and MPS or not."""

    def make(cuda: int = 0, mps: bool = False) -> None:
        monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda > 0)
        monkeypatch.setattr(torch.cuda, "device_count", lambda: cuda)
        monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
        monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: "Fake GPU")
        monkeypatch.setattr(torch.backends.mps, "is_available", lambda: mps)

    return make


def test_auto_on_a_cpu_only_machine_is_the_cpu_and_says_why(machine):
    machine()
    device = resolve_device("auto")
    assert device == torch.device("cpu")
    assert describe_device("auto", device) == "training on cpu (auto: no CUDA or MPS device)"


def test_auto_prefers_cuda_then_mps(machine):
    machine(cuda=1, mps=True)
    assert resolve_device("auto") == torch.device("cuda", 0)
    assert describe_device("auto", torch.device("cuda", 0)) == "training on cuda:0 (auto: Fake GPU)"
    machine(cuda=0, mps=True)
    assert resolve_device("auto") == torch.device("mps")
    assert describe_device("auto", torch.device("mps")) == "training on mps (auto: no CUDA device)"


def test_explicit_devices_that_exist(machine):
    machine(cuda=2, mps=True)
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("cuda") == torch.device("cuda", 0)  # the current device, named
    assert resolve_device("CUDA:1") == torch.device("cuda", 1)
    assert resolve_device("mps") == torch.device("mps")
    assert available_devices() == ["cpu", "cuda:0", "cuda:1", "mps"]
    assert describe_device("cpu", torch.device("cpu")) == "training on cpu"


@pytest.mark.parametrize(
    "cuda, mps, spec, message",
    [
        (0, False, "cuda", "--device cuda: this machine has no CUDA device; available: cpu"),
        (0, True, "cuda:0", "cuda:0: this machine has no CUDA device; available: cpu, mps"),
        (1, False, "mps", "--device mps: this machine has no MPS device; available: cpu, cuda"),
        (2, False, "cuda:2", "this machine has 2 CUDA devices; available: cpu, cuda:0, cuda:1"),
        (1, False, "cuda:1", "cuda:1: this machine has 1 CUDA device; available: cpu, cuda"),
        (0, False, "cpu:1", "--device cpu:1: this machine has one CPU device (cpu)"),
        (0, False, "tpu", "--device tpu: expected auto, cpu, cuda, cuda:N or mps"),
        (0, False, "cuda:x", "--device cuda:x: expected auto, cpu, cuda, cuda:N or mps"),
        (0, False, "meta", "--device meta: expected auto, cpu, cuda, cuda:N or mps"),
    ],
)
def test_a_device_the_machine_lacks_is_one_line_naming_what_is_there(
    machine, cuda, mps, spec, message
):
    machine(cuda=cuda, mps=mps)
    with pytest.raises(AekitError) as info:
        resolve_device(spec)
    assert message in str(info.value) and "\n" not in str(info.value)


def test_torch_devices_without_hardware_pass_and_gpus_are_checked(machine):
    machine()
    assert resolve_device(torch.device("meta")) == torch.device("meta")  # tests build there
    with pytest.raises(AekitError, match="no CUDA device"):
        resolve_device(torch.device("cuda"))
