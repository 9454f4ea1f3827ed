"""Variational models: posterior, loss parts, beta and KL warm-up, sampling, resumable state."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from aekit.core.posterior import DiagonalGaussian
from aekit.errors import AekitError
from aekit.inference import embed
from aekit.modalities.images.data import ImageSet
from aekit.models import build_model
from aekit.training.config import TrainConfig
from aekit.training.trainer import Trainer
from tests.conftest import shapes_images

TINY = {"image_shape": [1, 16, 16], "latent_dim": 3, "channels": [8, 16]}


def test_lesson_vae_is_784_512_2():
    model = build_model("vae")
    assert sum(p.numel() for p in model.parameters()) == 807_700  # the Keras example's count
    assert isinstance(model.encode(torch.rand(2, 1, 28, 28)), DiagonalGaussian)
    assert model.code_dim == 2


def test_loss_is_recon_plus_beta_times_kl():
    torch.manual_seed(0)
    x = torch.rand(5, 1, 16, 16)
    for beta in (0.0, 1.0, 4.0):
        model = build_model("conv-vae", {**TINY, "beta": beta}).eval()
        result = model.loss(model(x), x)
        parts = result.parts
        torch.testing.assert_close(result.loss, parts["recon"] + beta * parts["kl"])
        torch.testing.assert_close(parts["elbo"], -(parts["recon"] + parts["kl"]))
        assert float(parts["kl"]) > 0


def test_training_samples_and_evaluation_uses_the_mean():
    model = build_model("conv-vae", TINY)
    x = torch.rand(3, 1, 16, 16)
    model.eval()
    out = model(x)
    assert torch.equal(out.z, out.posterior.mean)
    model.train()
    assert not torch.equal(model(x).z, model(x).z)  # fresh draws
    assert np.array_equal(
        embed(model, (x * 255).byte().numpy()), embed(model, (x * 255).byte().numpy())
    )


def test_kl_warmup_ramps_and_its_step_count_is_saved():
    model = build_model("conv-vae", {**TINY, "beta": 2.0, "kl_warmup_steps": 4}).train()
    x = torch.rand(2, 1, 16, 16)
    weights = []
    for _ in range(6):
        weights.append(model.kl_weight())
        model.loss(model(x), x)
    assert weights == [0.0, 0.5, 1.0, 1.5, 2.0, 2.0]
    assert int(model.state_dict()["steps_seen"]) == 6  # in checkpoints, so resume continues it


def test_a_vae_learns_and_samples_from_the_prior():
    images, labels = shapes_images(256, seed=4)
    torch.manual_seed(0)
    model = build_model("conv-vae", TINY)
    result = Trainer(model, TrainConfig(epochs=4, batch_size=32), progress=False).fit(
        ImageSet(images[:224], labels[:224]), ImageSet(images[224:], labels[224:])
    )
    rows = result.history
    assert rows[-1]["val_loss"] < rows[0]["val_loss"]
    assert {"train_kl", "val_kl", "val_elbo"} <= set(rows[0])
    samples = model.sample(5, generator=torch.Generator().manual_seed(0))
    assert (
        samples.shape == (5, 1, 16, 16) and 0 <= float(samples.min()) <= float(samples.max()) <= 1
    )


@pytest.mark.parametrize("fields, fragment", [
    ({"beta": -1.0}, "beta must be a finite number >= 0"),
    ({"beta": float("nan")}, "beta must be"),
    ({"kl_warmup_steps": -1}, "kl_warmup_steps must be >= 0"),
    ({"latent_dim": 0}, "latent_dim"),
])  # fmt: skip
def test_bad_vae_configs(fields, fragment):
    with pytest.raises(AekitError, match=fragment):
        build_model("conv-vae", {**TINY, **fields})
