"""The trainer on a runtime: losses read at log points change no number, a NaN is still caught
before anything is saved and named at its own step, checkpoints carry the device's RNG state and
resume on another device type, and a run loads on the device asked for."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch

from aekit.errors import AekitError
from aekit.inference import embed, reconstruct
from aekit.training import checkpoint as ckpt
from aekit.training.batches import DeviceBatches
from aekit.training.config import TrainConfig
from tests.training.test_trainer import InterruptAt, assert_same_weights, data, make, weights

__all__ = ["data"]  # the fixture, shared with test_trainer.py

CONFIG = TrainConfig(epochs=2, batch_size=32)  # 10 steps an epoch on `data`
TIMING = ("seconds", "images_per_s")


def untimed(history: list[dict]) -> list[dict]:
    return [{k: v for k, v in row.items() if k not in TIMING} for row in history]


@pytest.mark.parametrize("model_name", ["conv-ae", "aae"])
def test_reading_losses_every_few_steps_changes_no_number(data, model_name):
    every_step = make(TrainConfig(epochs=2, batch_size=32, log_every=1), model_name=model_name)
    every_third = make(TrainConfig(epochs=2, batch_size=32, log_every=3), model_name=model_name)
    a, b = every_step.fit(*data), every_third.fit(*data)
    assert untimed(a.history) == untimed(b.history)  # exact epoch metrics, not a sample
    assert_same_weights(weights(every_step.model), weights(every_third.model))


def test_a_nan_between_log_points_stops_before_the_checkpoint_naming_its_step(data, tmp_path):
    calls = {"n": 0}

    def poison_step_2(x, generator):
        calls["n"] += 1
        return (x * float("nan"), x) if calls["n"] == 2 else (x, x)

    # the loss is read at step 5, but the checkpoint due after step 3 reads it first
    config = TrainConfig(epochs=1, batch_size=32, log_every=5, checkpoint_every=3)
    with pytest.raises(AekitError, match=r"loss is nan at epoch 1 step 2 \(lr .*nothing was saved"):
        make(config, tmp_path, task=poison_step_2).fit(*data)
    assert not (tmp_path / ckpt.CHECKPOINT).exists()


def test_a_cpu_checkpoint_holds_the_cpu_rng_state_only_and_names_its_device(data, tmp_path):
    make(TrainConfig(epochs=1, batch_size=64), tmp_path).fit(*data)
    tensors, meta = ckpt.load_tensors(tmp_path / ckpt.CHECKPOINT)
    assert {k for k in tensors if k.startswith("rng.")} == {"rng.torch", "rng.task"}
    assert meta["device"] == "cpu"


def test_a_checkpoint_written_on_a_gpu_resumes_on_the_cpu(data, tmp_path, caplog):
    """A GPU run's checkpoint also holds rng.cuda; the CPU takes its CPU states and leaves the
    CUDA one. Here only the CPU ever drew, so the resumed run is still bitwise the straight one."""
    straight = make(CONFIG, tmp_path / "straight")
    straight.fit(*data)
    run = tmp_path / "run"
    assert make(CONFIG, run, task=InterruptAt(13)).fit(*data).interrupted  # epoch 2 step 2
    tensors, meta = ckpt.load_tensors(run / ckpt.CHECKPOINT)
    tensors["rng.cuda"] = torch.arange(16, dtype=torch.uint8)  # as a CUDA run leaves it
    ckpt.save_tensors_atomic(run / ckpt.CHECKPOINT, tensors, {**meta, "device": "cuda"})
    resumed = make(CONFIG, run, seed=5)
    with caplog.at_level(logging.INFO, logger="aekit.training.trainer"):
        resumed.fit(*data, resume=True)
    assert "resumed at epoch 2 step 3: the CPU random state" in caplog.text
    assert_same_weights(weights(straight.model), weights(resumed.model))


def test_batches_gathered_on_the_host_are_the_batches_kept_on_the_device():
    images = np.arange(5 * 1 * 2 * 2, dtype=np.uint8).reshape(5, 1, 2, 2)
    labels = np.array([0, 1, 2, 3, 4])
    kept = DeviceBatches(images, labels, torch.device("cpu"))
    assert kept.resident
    host = DeviceBatches(images, labels, torch.device("cpu"))
    host.resident = False  # the path a dataset too big for the GPU takes
    index = torch.tensor([4, 0, 2])
    for batches in (kept, host):
        batch, y = batches.gather(batches.place(index))
        assert torch.equal(batch, torch.from_numpy(images[[4, 0, 2]]))
        assert y.tolist() == [4, 0, 2]
        batch, y = batches.slice(1, 3)
        assert torch.equal(batch, torch.from_numpy(images[1:3])) and y.tolist() == [1, 2]


def test_load_run_and_inference_take_a_device(data, tmp_path, monkeypatch):
    make(TrainConfig(epochs=1, batch_size=64), tmp_path).fit(*data)
    images = data[1].images[:8]
    run = ckpt.load_run(tmp_path, device="cpu")
    assert next(run.model.parameters()).device == torch.device("cpu")
    expected = reconstruct(run.model, images)
    assert np.array_equal(reconstruct(run.model, images, device="cpu"), expected)
    assert embed(run.model, images, device="auto").shape[0] == 8
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(AekitError, match="--device cuda: this machine has no CUDA device"):
        ckpt.load_run(tmp_path, device="cuda")
