"""Where tensors are made: random draws on the generator's device then moved, and nothing in a
model made on a hard-wired device. Without a GPU, the `meta` device stands in for one: a model
built there fails with "not on the expected device" the moment it mixes in a CPU tensor."""

from __future__ import annotations

import contextlib

import pytest
import torch

from aekit.core.posterior import DiagonalGaussian
from aekit.core.random import module_device, randn
from aekit.models import MODELS, build_model, spec_of

META = torch.device("meta")
# cvae checks its labels' values, which a meta tensor does not have; the CUDA test covers it.
# Image models here (the melody VAE's draws on the meta device are in test_melody_vae.py).
ON_META = sorted(n for n in set(MODELS) - {"cvae"} if spec_of(n).modality == "images")


def meta_model(name: str):
    config = {**spec_of(name).tiny, "image_shape": [1, 8, 8]}
    with META:
        return build_model(name, config)


def test_draws_are_made_on_the_generators_device_then_moved():
    a = randn((3, 4), torch.Generator().manual_seed(7), META, torch.float16)
    assert (a.device, a.dtype, a.shape) == (META, torch.float16, (3, 4))
    # the same seed gives the same numbers as a plain CPU draw, whatever the target device
    b = randn((3, 4), torch.Generator().manual_seed(7), "cpu")
    assert torch.equal(b, torch.randn(3, 4, generator=torch.Generator().manual_seed(7)))
    # without a generator: the target device's own generator, nothing made on the CPU
    assert randn((2,), None, META).device == META


def test_a_posterior_samples_beside_its_mean_with_a_cpu_generator():
    q = DiagonalGaussian(torch.zeros(2, 3, device=META), torch.zeros(2, 3, device=META))
    assert q.sample(torch.Generator().manual_seed(0)).device == META
    assert q.sample().device == META


def test_module_device_is_where_the_parameters_are():
    assert module_device(meta_model("ae")) == META
    assert module_device(torch.nn.Identity()) == torch.device("cpu")
    buffers_only = torch.nn.BatchNorm1d(2, affine=False).to(META)
    assert module_device(buffers_only) == META


@pytest.mark.parametrize("name", ON_META)
def test_a_model_on_another_device_makes_its_tensors_there(name):
    model = meta_model(name).train()
    assert all(p.device == META for p in model.parameters())
    assert len(model.code_shape) >= 1  # its probe is made on the model's device
    x = torch.zeros(4, *model.config.image_shape, device=META)
    out = model(x)  # variational models sample q(z|x) here
    model.loss(out, torch.zeros(4, *model.output_shape, device=META))
    if hasattr(model, "sample"):
        for generator in (None, torch.Generator().manual_seed(0)):
            assert model.sample(3, generator=generator).device == META


class NoUpdates:
    """A StepContext stand-in: the phases run, nothing steps (meta tensors have no values)."""

    def autocast(self):
        return contextlib.nullcontext()

    def update(self, name, loss):
        assert loss.device == META, name


def test_the_aae_draws_its_prior_and_labels_on_the_codes_device():
    model = meta_model("aae").train()
    x = torch.zeros(4, 1, 8, 8, device=META)
    losses = model.training_step(x, x, None, NoUpdates())
    assert {v.device for v in losses.values()} == {META}
