"""The training loop: it learns, it is deterministic, it resumes bitwise, it fails loudly."""

from __future__ import annotations

import os
import signal

import numpy as np
import pytest
import torch

from aekit.errors import AekitError
from aekit.modalities.images.data import ImageSet
from aekit.models import build_model
from aekit.training import checkpoint as ckpt
from aekit.training.config import TrainConfig
from aekit.training.trainer import Trainer, batch_order, lr_at
from tests.conftest import shapes_images

TINY_CONV = {"channels": [8, 16], "latent_dim": 8, "image_shape": [1, 16, 16]}
TINY = {"conv-ae": TINY_CONV, "aae": {**TINY_CONV, "disc_hidden": [16]}}


@pytest.fixture(scope="module")
def data():
    images, labels = shapes_images(384, seed=3)
    return ImageSet(images[:320], labels[:320]), ImageSet(images[320:], labels[320:])


def make(config: TrainConfig, out_dir=None, task=None, seed: int = 0, model_name="conv-ae"):
    torch.manual_seed(seed)
    model = build_model(model_name, TINY[model_name])
    kwargs = {} if task is None else {"task": task}
    return Trainer(model, config, out_dir=out_dir, progress=False, **kwargs)


def weights(model) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone().contiguous() for k, v in model.state_dict().items()}


def assert_same_weights(a, b):
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


def test_it_learns(data):
    train, val = data
    result = make(TrainConfig(epochs=4, batch_size=32, lr=3e-3)).fit(train, val)
    losses = [row["val_loss"] for row in result.history]
    assert len(losses) == 4
    assert losses[-1] < 0.8 * losses[0]
    assert result.best_val_loss == min(losses)


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_same_seed_same_weights_other_seed_other_weights(data, precision):
    train, val = data
    config = TrainConfig(epochs=1, batch_size=64, precision=precision)
    a, b = make(config), make(config)
    a.fit(train, val)
    b.fit(train, val)
    assert_same_weights(weights(a.model), weights(b.model))
    c = make(TrainConfig(epochs=1, batch_size=64, precision=precision, seed=1))
    c.fit(train, val)
    assert not torch.equal(
        weights(a.model)["encoder.0.weight"], weights(c.model)["encoder.0.weight"]
    )


def test_batch_order_is_a_function_of_seed_and_epoch():
    assert torch.equal(batch_order(100, 0, 3), batch_order(100, 0, 3))
    assert not torch.equal(batch_order(100, 0, 3), batch_order(100, 0, 4))
    assert sorted(batch_order(100, 5, 0).tolist()) == list(range(100))


def test_cosine_schedule_ends_at_five_percent():
    config = TrainConfig(lr=1.0)
    assert lr_at(0, 100, config) == pytest.approx(1.0)
    assert lr_at(99, 100, config) == pytest.approx(0.05)
    assert lr_at(50, 100, TrainConfig(lr=1.0, schedule="constant")) == 1.0


class InterruptAt:
    """A task that presses Ctrl-C (a real SIGINT) while step `at` runs, then acts as identity."""

    def __init__(self, at: int) -> None:
        self.at, self.calls = at, 0

    def __call__(self, x, generator):
        self.calls += 1
        if self.calls == self.at:
            os.kill(os.getpid(), signal.SIGINT)
        return x, x


# aae: a model with three optimizers and prior draws from the global RNG in every step.
@pytest.mark.parametrize("model_name", ["conv-ae", "aae"])
@pytest.mark.parametrize("precision", ["fp32", "bf16"])
# The task also runs once per validation pass, so calls 1-10 are epoch 1's steps, 11 validates.
# 3: mid-epoch; 10: the last step, before validation; 17: epoch 2 step 6.
@pytest.mark.parametrize("stop_at, epochs_done", [(3, 0), (10, 0), (17, 1)])
def test_ctrl_c_then_resume_is_bitwise_the_uninterrupted_run(
    data, tmp_path, precision, stop_at, epochs_done, model_name
):
    train, val = data
    config = TrainConfig(epochs=3, batch_size=32, precision=precision)
    straight = make(config, tmp_path / "straight", model_name=model_name)
    straight_result = straight.fit(train, val)

    first = make(config, tmp_path / "split", task=InterruptAt(stop_at), model_name=model_name)
    partial = first.fit(train, val)
    assert partial.interrupted
    assert len(partial.history) == epochs_done
    # a fresh init, overwritten by the resume
    resumed = make(config, tmp_path / "split", seed=123, model_name=model_name)
    result = resumed.fit(train, val, resume=True)

    assert not result.interrupted
    assert_same_weights(weights(straight.model), weights(resumed.model))
    assert result.history == [
        {**row, "seconds": r2["seconds"], "images_per_s": r2["images_per_s"]}
        for row, r2 in zip(straight_result.history, result.history, strict=True)
    ]
    saved = ckpt.load_tensors(tmp_path / "split" / ckpt.WEIGHTS)[0]
    assert_same_weights(saved, ckpt.load_tensors(tmp_path / "straight" / ckpt.WEIGHTS)[0])


@pytest.mark.parametrize("model_name", ["conv-ae", "aae"])
def test_optimizer_state_round_trips(data, tmp_path, model_name):
    train, val = data
    trainer = make(TrainConfig(epochs=1, batch_size=64), tmp_path, model_name=model_name)
    trainer.fit(train, val)
    fresh = make(TrainConfig(epochs=1, batch_size=64), tmp_path, model_name=model_name)
    fresh._start_state(resume=True)
    assert trainer.optimizers.keys() == fresh.optimizers.keys()
    for name, optimizer in trainer.optimizers.items():
        before, after = optimizer.state_dict(), fresh.optimizers[name].state_dict()
        assert before["param_groups"] == after["param_groups"]
        assert before["state"].keys() == after["state"].keys()
        for index, slots in before["state"].items():
            for slot, value in slots.items():
                assert torch.equal(
                    torch.as_tensor(value), torch.as_tensor(after["state"][index][slot])
                )


def test_a_checkpoint_of_another_model_is_refused_on_resume(data, tmp_path):
    train, val = data
    make(TrainConfig(epochs=1, batch_size=64), tmp_path, model_name="aae").fit(train, val)
    other = make(TrainConfig(epochs=2, batch_size=64), tmp_path)
    with pytest.raises(AekitError, match="does not fit the model|belongs to another model"):
        other.fit(train, val, resume=True)


def test_loss_that_turns_nan_stops_with_the_last_good_checkpoint(data, tmp_path):
    train, val = data
    calls = {"n": 0}

    def poison_at_step_15(x, generator):  # call 15: epoch 1 took 10 + 1 validation call
        calls["n"] += 1
        return (x * float("nan"), x) if calls["n"] == 15 else (x, x)

    trainer = make(TrainConfig(epochs=3, batch_size=32), tmp_path, task=poison_at_step_15)
    with pytest.raises(AekitError, match=r"loss is nan at epoch 2 step 4 .*checkpoint .* is kept"):
        trainer.fit(train, val)
    assert len(ckpt.read_metrics(tmp_path)) == 1  # epoch 1 survives, nothing after it
    _, meta = ckpt.load_tensors(tmp_path / ckpt.CHECKPOINT)
    assert meta["position"] == {"epoch": 1, "step": 0, "sums": {}, "count": 0}
    for tensor in ckpt.load_tensors(tmp_path / ckpt.WEIGHTS)[0].values():
        assert torch.isfinite(tensor).all()


def test_early_stopping_when_validation_stops_improving(data):
    train, val = data
    # SGD at a vanishing learning rate leaves the weights, and so the validation loss, unchanged
    # (in the lesson net: the default's BatchNorm statistics would still move).
    config = TrainConfig(epochs=6, batch_size=64, optimizer="sgd", lr=1e-30, patience=2)
    model = build_model("conv-ae", arch="lesson", image_shape=[1, 16, 16])
    result = Trainer(model, config, progress=False).fit(train, val)
    assert result.stopped_early
    assert len(result.history) == 3


def test_resume_needs_a_checkpoint(tmp_path, data):
    with pytest.raises(AekitError, match="nothing to resume"):
        make(TrainConfig(epochs=1), tmp_path).fit(*data, resume=True)


def test_empty_training_split_is_refused():
    empty = ImageSet(np.zeros((0, 1, 16, 16), np.uint8), None)
    with pytest.raises(AekitError, match="has 0 images; training needs at least 2"):
        make(TrainConfig(epochs=1)).fit(empty)


def test_without_validation_the_best_training_loss_is_kept(data, tmp_path):
    train, _ = data
    result = make(TrainConfig(epochs=2, batch_size=64), tmp_path).fit(train, None)
    assert "val_loss" not in result.history[0]
    assert (tmp_path / ckpt.WEIGHTS).is_file()


def test_divergence_before_any_checkpoint_leaves_the_out_dir_reusable(data, tmp_path):
    train, val = data

    def poison(x, generator):
        return x * float("nan"), x

    with pytest.raises(AekitError, match="loss is nan at epoch 1 step 1 .*nothing was saved"):
        make(TrainConfig(epochs=2, batch_size=32), tmp_path, task=poison).fit(train, val)
    assert not (tmp_path / ckpt.CONFIG).exists()
    result = make(TrainConfig(epochs=1, batch_size=32), tmp_path).fit(train, val)  # same out_dir
    assert len(result.history) == 1
