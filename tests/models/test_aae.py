"""The adversarial autoencoder's three phases: each optimizer moves only its own player."""

from __future__ import annotations

import pytest
import torch

from aekit.errors import AekitError
from aekit.modalities.images.data import ImageSet
from aekit.models import build_model, spec_of
from aekit.runtime import cpu_runtime
from aekit.training.config import TrainConfig
from aekit.training.steps import StepContext, build_optimizers
from aekit.training.trainer import Trainer
from tests.conftest import shapes_images

TINY = {**spec_of("aae").tiny, "image_shape": [1, 8, 8]}  # the contract suite's tiny aae


class RecordingContext(StepContext):
    """Notes which parameters each phase's update changed."""

    def __init__(self, model, optimizers) -> None:
        super().__init__(optimizers, cpu_runtime("fp32"), None)
        self.model, self.moved = model, {}

    def update(self, name, loss) -> None:
        before = {k: p.detach().clone() for k, p in self.model.named_parameters()}
        super().update(name, loss)
        self.moved[name] = {
            k.split(".")[0] + ("." + k.split(".")[1] if k.startswith("bottleneck") else "")
            for k, p in self.model.named_parameters()
            if not torch.equal(p.detach(), before[k])
        }


def test_each_phase_moves_only_its_player():
    torch.manual_seed(0)
    model = build_model("aae", TINY).train()
    optimizers, scales = build_optimizers(model, TrainConfig(optimizer="adam", lr=1e-2))
    assert scales == {"recon": 1.0, "disc": 0.5, "gen": 0.5}
    ctx = RecordingContext(model, optimizers)
    x = torch.rand(8, 1, 8, 8)
    losses = model.training_step(x, x, None, ctx)
    assert ctx.moved["recon"] == {"encoder", "bottleneck.down", "bottleneck.up", "decoder"}
    # the codes are detached for the discriminator, so its phase cannot move the encoder
    assert ctx.moved["disc"] == {"discriminator"}
    # the regulariser moves the encoder only; the discriminator is frozen for it
    assert ctx.moved["gen"] == {"encoder", "bottleneck.down"}
    assert 0.0 <= float(losses["disc_acc"]) <= 1.0
    assert torch.equal(losses["loss"], losses["recon"])
    assert all(p.requires_grad for p in model.discriminator.parameters())  # unfrozen again


@pytest.mark.parametrize("seed", [0, 1])
def test_training_pulls_shifted_codes_back_to_the_prior(seed):
    """Start every code 4 away from the prior's mean: reconstruction alone does not care (the
    decoder absorbs the shift), the adversarial phases pull the codes back towards N(0, I)."""
    images, labels = shapes_images(512, size=8, seed=1)
    train, val = ImageSet(images[:448], labels[:448]), ImageSet(images[448:], labels[448:])

    def code_mean(name, fields):
        torch.manual_seed(seed)
        model = build_model(name, fields)
        with torch.no_grad():
            model.bottleneck.down.bias += 4.0
        config = TrainConfig(epochs=5, batch_size=32, lr=1e-2, seed=seed)
        result = Trainer(model, config, progress=False).fit(train, val)
        with torch.no_grad():
            z = model.encode(torch.from_numpy(images[448:]).float() / 255)
        return result.history, float(z.mean(0).abs().mean())

    history, aae_offset = code_mean("aae", {**TINY, "disc_hidden": [32]})
    _, ae_offset = code_mean("conv-ae", {k: v for k, v in TINY.items() if k != "disc_hidden"})
    assert aae_offset < 1.2 < 2.0 < ae_offset
    assert all(0.0 <= row["train_disc_acc"] <= 1.0 for row in history)
    assert {"train_disc", "train_gen", "val_recon"} <= history[-1].keys()


def test_aae_samples_from_its_prior_and_takes_no_label():
    model = build_model("aae", TINY).eval()
    a = model.sample(3, generator=torch.Generator().manual_seed(1))
    b = model.sample(3, generator=torch.Generator().manual_seed(1))
    assert a.shape == (3, 1, 8, 8) and torch.equal(a, b)
    with pytest.raises(AekitError, match="not conditional"):
        model.sample(2, torch.tensor([0, 1]))


@pytest.mark.parametrize(
    "fields, fragment",
    [
        ({"adversarial_lr_scale": 0.0}, "adversarial_lr_scale must be"),
        ({"disc_hidden": []}, "disc_hidden must be"),
        ({"arch": "big"}, "unknown aae arch"),
    ],
)
def test_bad_aae_configs(fields, fragment):
    with pytest.raises(AekitError, match=fragment):
        build_model("aae", {**TINY, **fields})
