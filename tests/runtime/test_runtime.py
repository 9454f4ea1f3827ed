"""The Runtime: precision resolved per device type, autocast for that device, one process, and
the collective hooks the trainer calls at every backward pass and every loss read."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import pytest
import torch

from aekit.errors import AekitError
from aekit.models import build_model
from aekit.runtime import Runtime, cpu_runtime
from aekit.runtime import precision as precision_module
from aekit.runtime.precision import resolve_precision
from aekit.training import metrics
from aekit.training.config import TrainConfig
from aekit.training.steps import StepContext, build_optimizers, training_step
from aekit.training.trainer import Trainer
from tests.training.test_trainer import TINY, data

__all__ = ["data"]  # the fixture, shared with test_trainer.py


@pytest.mark.parametrize("native", [True, False])
def test_auto_precision_is_resolved_per_device_type(monkeypatch, native):
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation=True: native)
    monkeypatch.setattr(precision_module, "cpu_has_bf16", lambda: not native)
    assert resolve_precision("auto", "cuda") == ("bf16" if native else "fp32")
    assert resolve_precision("auto", "cpu") == ("fp32" if native else "bf16")
    assert resolve_precision("auto", "mps") == "fp32"
    for device_type in ("cpu", "cuda", "mps"):
        assert resolve_precision("bf16", device_type) == "bf16"  # explicit choices pass


def test_emulated_bf16_on_cuda_does_not_count(monkeypatch):
    asked = []

    def supported(including_emulation=True):
        asked.append(including_emulation)
        return including_emulation  # an old GPU: bf16 only by emulation, slower than fp32

    monkeypatch.setattr(torch.cuda, "is_bf16_supported", supported)
    assert resolve_precision("auto", "cuda") == "fp32" and asked == [False]


def test_autocast_is_for_the_runtimes_device_type():
    with Runtime(torch.device("cpu"), "bf16").autocast():
        assert torch.is_autocast_enabled("cpu")
        assert torch.get_autocast_dtype("cpu") == torch.bfloat16
    with Runtime(torch.device("cpu"), "fp32").autocast():
        assert not torch.is_autocast_enabled("cpu")
    with warnings.catch_warnings():  # without CUDA torch warns that it would disable it
        warnings.simplefilter("ignore", UserWarning)
        assert Runtime(torch.device("cuda", 0), "bf16").autocast().device == "cuda"


def test_one_process_is_the_writer_and_its_collectives_change_nothing():
    runtime = cpu_runtime("fp32")
    assert (runtime.device, runtime.rank, runtime.world_size, runtime.is_writer) == (
        torch.device("cpu"), 0, 1, True,
    )  # fmt: skip
    sums = torch.tensor([1.5, 2.0])
    assert runtime.all_reduce_sums(sums) is sums
    runtime.barrier()
    assert not Runtime(torch.device("cpu"), "fp32", rank=1, world_size=2).is_writer


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"precision": "auto"}, "precision is fp32 or bf16, got 'auto'"),
        ({"precision": "fp32", "rank": 2, "world_size": 2}, "rank 2 is outside a world of 2"),
    ],
)
def test_a_runtime_is_resolved(kwargs, message):
    with pytest.raises(AekitError, match=message):
        Runtime(torch.device("cpu"), **kwargs)


@dataclass(frozen=True)
class RecordingRuntime(Runtime):
    """Notes each gradient all-reduce: which parameters, whether their gradients were there."""

    grads: list = field(default_factory=list, compare=False)

    def all_reduce_grads(self, params) -> None:
        params = list(params)
        self.grads.append(({id(p) for p in params}, all(p.grad is not None for p in params)))


def recording() -> RecordingRuntime:
    return RecordingRuntime(torch.device("cpu"), "fp32")


def test_every_backward_pass_of_every_optimizer_goes_through_the_runtime():
    torch.manual_seed(0)
    model = build_model("aae", {**TINY["aae"], "image_shape": [1, 8, 8]}).train()
    optimizers, _ = build_optimizers(model, TrainConfig(optimizer="sgd", lr=0.1))
    runtime = recording()
    x = torch.rand(4, 1, 8, 8)
    training_step(model, x, x, None, StepContext(optimizers, runtime, grad_clip=1.0))
    # the AAE's three phases, each all-reducing exactly its own optimizer's parameters, after
    # its backward pass (the gradients are there) and before its step
    groups = [opt.param_groups for opt in optimizers.values()]
    expected = [{id(p) for group in opt for p in group["params"]} for opt in groups]
    assert [ids for ids, _ in runtime.grads] == expected
    assert all(had_grads for _, had_grads in runtime.grads)


def test_losses_are_read_back_at_log_points_only(data, monkeypatch):
    train, val = data  # 320 training images: 10 steps of 32 an epoch
    reads = []
    real_read = metrics.Accumulator.read

    def counted(self):
        reads.append(len(self.pending))
        return real_read(self)

    monkeypatch.setattr(metrics.Accumulator, "read", counted)
    torch.manual_seed(0)
    model = build_model("conv-ae", TINY["conv-ae"])
    config = TrainConfig(epochs=2, batch_size=32, precision="fp32", log_every=4)
    Trainer(model, config, progress=False).fit(train, val)
    # each read brings back the steps since the last one: steps 4 and 8, the epoch's last two,
    # then the validation pass's one read (64 images, one batch; `means` reads again, finding
    # nothing); log points count from the start of the run, so epoch 2 reads at its steps 2
    # (global 12), 6 (16) and 10 (20); `means` at each epoch's end finds nothing left
    assert [n for n in reads if n] == [4, 4, 2, 1, 2, 4, 4, 1]


def test_with_several_processes_loss_sums_go_through_the_all_reduce():
    """Two ranks that saw the same batches: the all-reduce doubles every sum and count, so the
    means stay; the table it gets holds each batch's weighted terms, then its size."""
    runtime = RecordingRuntime(torch.device("cpu"), "fp32", rank=0, world_size=2)
    doubled = []

    def all_reduce_sums(table):
        doubled.append(table.clone())
        return table * 2

    object.__setattr__(runtime, "all_reduce_sums", all_reduce_sums)
    acc = metrics.Accumulator(runtime=runtime)
    acc.add({"loss": torch.tensor(0.5), "kl": torch.tensor(0.25)}, 4)
    acc.add({"loss": torch.tensor(1.5), "kl": torch.tensor(0.75)}, 2)
    assert acc.read() == [{"loss": 0.5, "kl": 0.25}, {"loss": 1.5, "kl": 0.75}]
    assert doubled[0].tolist() == [[2.0, 1.0, 4.0], [3.0, 1.5, 2.0]]
    assert (acc.sums, acc.count) == ({"loss": 10.0, "kl": 5.0}, 12)
    assert acc.means() == {"loss": 10.0 / 12, "kl": 5.0 / 12}


def test_a_runtime_made_for_another_precision_is_refused():
    model = build_model("conv-ae", TINY["conv-ae"])
    with pytest.raises(AekitError, match="train.precision is bf16 but the runtime was made"):
        Trainer(model, TrainConfig(precision="bf16"), runtime=cpu_runtime("fp32"))
    assert Trainer(model, TrainConfig(), runtime=cpu_runtime("fp32")).precision == "fp32"
