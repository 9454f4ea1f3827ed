"""On a real CUDA device (skipped elsewhere): training, checkpoints with the CUDA generator's
state, resuming across device types both ways, and models, inference and likelihoods there."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from aekit.inference import embed, reconstruct
from aekit.latent.likelihood import importance_nll
from aekit.models import build_model
from aekit.runtime import Runtime, cpu_runtime
from aekit.training import checkpoint as ckpt
from aekit.training.batches import DeviceBatches
from aekit.training.config import TrainConfig
from aekit.training.trainer import Trainer
from tests.training.test_trainer import InterruptAt, assert_same_weights, data, weights

__all__ = ["data"]  # the fixture, shared with test_trainer.py

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")

MODELS = {
    "vae": {"hidden": [32], "latent_dim": 4, "image_shape": [1, 16, 16]},
    "conv-vae": {"channels": [8, 16], "latent_dim": 4, "image_shape": [1, 16, 16]},
    "aae": {"channels": [8, 16], "latent_dim": 4, "disc_hidden": [16], "image_shape": [1, 16, 16]},
    "cvae": {"channels": [8, 16], "latent_dim": 4, "num_classes": 2, "image_shape": [1, 16, 16]},
}
CONFIG = TrainConfig(epochs=2, batch_size=32, precision="fp32")


def trainer(name, out_dir, runtime, task=None, seed=0):
    torch.manual_seed(seed)
    model = build_model(name, MODELS[name])
    extra = {} if task is None else {"task": task}
    return Trainer(model, CONFIG, out_dir=out_dir, progress=False, runtime=runtime, **extra)


def gpu() -> Runtime:
    return Runtime.create("cuda", "fp32")


@pytest.mark.parametrize("name", sorted(MODELS))
def test_training_on_cuda_checkpoints_its_generator_and_resumes_on_the_cpu(data, tmp_path, name):
    first = trainer(name, tmp_path, gpu(), task=InterruptAt(13))  # epoch 2 step 2
    assert first.fit(*data).interrupted
    assert next(first.model.parameters()).is_cuda
    tensors, meta = ckpt.load_tensors(tmp_path / ckpt.CHECKPOINT)
    assert tensors["rng.cuda"].dtype == torch.uint8 and tensors["rng.cuda"].numel() == 16
    assert meta["device"] == "cuda"
    resumed = trainer(name, tmp_path, cpu_runtime("fp32"), seed=3)
    result = resumed.fit(*data, resume=True)
    assert len(result.history) == 2 and all(np.isfinite(r["train_loss"]) for r in result.history)
    assert not next(resumed.model.parameters()).is_cuda


def test_a_cpu_run_resumes_on_cuda(data, tmp_path):
    first = trainer("conv-vae", tmp_path, cpu_runtime("fp32"), task=InterruptAt(13))
    assert first.fit(*data).interrupted
    resumed = trainer("conv-vae", tmp_path, gpu(), seed=3)
    result = resumed.fit(*data, resume=True)
    assert len(result.history) == 2 and np.isfinite(result.history[-1]["train_loss"])


def test_a_cuda_resume_restores_the_cuda_generator(data, tmp_path):
    """The VAE samples q(z|x) from the CUDA generator each step: without its saved state the
    resumed run would draw other noise. (Fully connected, fp32: cuBLAS is deterministic.)"""
    straight = trainer("vae", tmp_path / "straight", gpu())
    straight.fit(*data)
    assert trainer("vae", tmp_path / "run", gpu(), task=InterruptAt(13)).fit(*data).interrupted
    resumed = trainer("vae", tmp_path / "run", gpu(), seed=3)
    resumed.fit(*data, resume=True)
    assert_same_weights(weights(straight.model), weights(resumed.model))


def test_auto_precision_on_cuda_follows_native_bf16():
    native = torch.cuda.is_bf16_supported(including_emulation=False)
    assert Runtime.create("cuda", "auto").precision == ("bf16" if native else "fp32")
    with Runtime.create("cuda", "bf16").autocast():
        assert torch.is_autocast_enabled("cuda")


def test_the_dataset_lives_on_the_gpu_or_comes_through_pinned_memory():
    images = np.random.default_rng(0).integers(0, 256, (64, 1, 4, 4), dtype=np.uint8)
    labels = np.arange(64)
    device = torch.device("cuda", torch.cuda.current_device())
    kept = DeviceBatches(images, labels, device)
    assert kept.resident and kept.images.is_cuda
    streamed = DeviceBatches(images, labels, torch.device("cpu"))
    streamed.device, streamed.resident = device, False
    index = torch.tensor([5, 63, 0])
    for batches in (kept, streamed):
        batch, y = batches.gather(batches.place(index))
        assert batch.is_cuda and y.is_cuda
        assert torch.equal(batch.cpu(), torch.from_numpy(images[[5, 63, 0]]))
        assert y.tolist() == [5, 63, 0]


def test_a_run_loads_and_serves_on_cuda_as_on_the_cpu(data, tmp_path, monkeypatch):
    monkeypatch.setattr(torch.backends.cudnn, "allow_tf32", False)  # compare fp32 with fp32
    trainer("cvae", tmp_path, cpu_runtime("fp32")).fit(*data)
    images, labels = data[1].images[:16], data[1].labels[:16]
    cpu, gpu_run = ckpt.load_run(tmp_path), ckpt.load_run(tmp_path, device="cuda")
    assert next(gpu_run.model.parameters()).is_cuda
    np.testing.assert_allclose(
        reconstruct(gpu_run.model, images, labels=labels),
        reconstruct(cpu.model, images, labels=labels), atol=1e-3,
    )  # fmt: skip
    for seed in (0, 1):  # draws on a CPU generator: the same codes on either device
        a = embed(cpu.model, images, sample=True, labels=labels,
                  generator=torch.Generator().manual_seed(seed))  # fmt: skip
        b = embed(gpu_run.model, images, sample=True, labels=labels,
                  generator=torch.Generator().manual_seed(seed))  # fmt: skip
        np.testing.assert_allclose(a, b, atol=1e-3)
    y = torch.tensor([0, 1, 0])  # CPU labels for a GPU model
    g = torch.Generator().manual_seed(0)
    assert gpu_run.model.sample(3, y, generator=g).is_cuda
    nll_cpu = importance_nll(cpu.model, images, 16, labels=labels)
    nll_gpu = importance_nll(gpu_run.model, images, 16, labels=labels)
    assert nll_gpu["nll"] == pytest.approx(nll_cpu["nll"], rel=1e-3)
