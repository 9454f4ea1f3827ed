"""Unset epochs and batch size fit the training split (issue 14: a first run that learns)."""

from __future__ import annotations

import json

import pytest
import torch

from aekit.errors import AekitError
from aekit.modalities.images.data import ImageSet
from aekit.models import build_model
from aekit.training import checkpoint as ckpt
from aekit.training import config as train_config
from aekit.training.config import (
    MAX_BATCH,
    MAX_EPOCHS,
    MIN_BATCH,
    MIN_STEPS,
    TrainConfig,
    adaptive_batch_size,
    adaptive_epochs,
)
from aekit.training.trainer import Trainer
from tests.conftest import shapes_images

TINY_CONV = {"channels": [8, 16], "latent_dim": 8, "image_shape": [1, 16, 16]}


def test_a_big_set_keeps_ten_epochs_of_256():
    # Fashion-MNIST's training split: the defaults every published figure was measured with.
    assert adaptive_batch_size(54000) == MAX_BATCH == 256
    assert adaptive_epochs(54000, 256) == 10


@pytest.mark.parametrize("rows", [16, 64, 100, 1437, 2047, 2048, 5000])
def test_a_small_set_takes_a_batch_of_at_most_an_eighth(rows):
    batch = adaptive_batch_size(rows)
    assert batch * 8 <= rows or batch == MIN_BATCH
    assert batch & (batch - 1) == 0  # a power of two
    assert 2 * batch * 8 > rows or batch == MAX_BATCH  # the largest that fits


def test_a_set_smaller_than_the_least_batch_is_one_batch():
    assert adaptive_batch_size(5) == 5
    assert adaptive_batch_size(1) == 1


@pytest.mark.parametrize("world_size", [2, 3, 6])
def test_the_batch_splits_evenly_over_processes(world_size):
    for rows in (10, 100, 1437, 60000):
        batch = adaptive_batch_size(rows, world_size)
        assert batch % world_size == 0 and batch >= world_size


def test_a_small_set_trains_the_step_budget():
    # 1,437 rows in batches of 128 = 11 steps an epoch; 1,000 steps take 91 epochs.
    epochs = adaptive_epochs(1437, 128)
    assert epochs * 11 >= MIN_STEPS > (epochs - 1) * 11
    assert adaptive_epochs(10, 10) == MAX_EPOCHS  # one step an epoch: capped


def test_resolved_keeps_what_was_set():
    assert TrainConfig(epochs=3, batch_size=7).resolved(1437) == TrainConfig(epochs=3, batch_size=7)
    assert TrainConfig(epochs=3).resolved(1437).batch_size == 128
    assert TrainConfig(batch_size=256).resolved(1437).epochs == MIN_STEPS // 5 + (MIN_STEPS % 5 > 0)
    resolved = TrainConfig(lr=1e-3).resolved(1437)
    assert (resolved.epochs, resolved.batch_size, resolved.lr) == (91, 128, 1e-3)
    assert resolved.resolved(10) == resolved  # once chosen, fixed


@pytest.mark.parametrize("bad", [{"epochs": 0}, {"batch_size": 0}])
def test_set_values_are_still_checked(bad):
    with pytest.raises(AekitError):
        TrainConfig(**bad)


def test_the_trainer_records_what_it_chose(tmp_path, monkeypatch):
    monkeypatch.setattr(train_config, "DEFAULT_EPOCHS", 2)  # keep the run short
    monkeypatch.setattr(train_config, "MIN_STEPS", 20)
    images, labels = shapes_images(72, seed=3)
    train, val = ImageSet(images[:64], labels[:64]), ImageSet(images[64:], labels[64:])
    torch.manual_seed(0)
    trainer = Trainer(build_model("conv-ae", TINY_CONV), TrainConfig(), out_dir=tmp_path / "r",
                      progress=False)  # fmt: skip
    result = trainer.fit(train, val)
    saved = json.loads((tmp_path / "r" / ckpt.CONFIG).read_text())["train"]
    # 64 rows: batch 8 (1/8), 8 steps an epoch; the step budget lifts 2 epochs to ceil(20 / 8)
    assert (saved["batch_size"], saved["epochs"]) == (8, 3)
    assert len(result.history) == 3
    assert (trainer.config.batch_size, trainer.config.epochs) == (8, 3)


def test_the_cli_plan_says_what_will_run(tiny_npz, run_cli):
    code, out, err = run_cli("train", "conv-ae", "--data", tiny_npz, "--out", "x", "--dry-run")
    assert code == 0, err
    plan = json.loads(out[: out.rindex("}") + 1])
    batch = plan["train"]["batch_size"]
    assert batch is not None and batch * 8 <= 320  # tiny_npz: up to 320 training rows
    assert "epochs x" in out and f"of batch {batch}" in out
    code, out, err = run_cli(
        "train", "conv-ae", "--data", tiny_npz, "--out", "x", "--dry-run", "--epochs", "2",
        "--batch-size", "100",
    )  # fmt: skip
    assert code == 0, err
    assert "plan: 2 epochs x" in out and "of batch 100" in out
