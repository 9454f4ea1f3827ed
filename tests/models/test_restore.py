"""conv-ae arch unet: shapes, identity at init, no code to decode, the denoise task's default."""

from __future__ import annotations

import pytest
import torch

from aekit.errors import AekitError
from aekit.models.conv_ae import ConvAE, ConvAEConfig


@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 15, 17), (1, 8, 8)])
def test_unet_keeps_any_shape_and_starts_as_the_identity(shape) -> None:
    model = ConvAE(ConvAEConfig(image_shape=shape, arch="unet", channels=(8, 16)))
    x = torch.rand(2, *shape, generator=torch.Generator().manual_seed(0))
    out = model(x)
    assert out.recon.shape == x.shape and out.logits.shape == x.shape
    assert (out.recon - x).abs().max() < 0.011  # residual learning: r = 0 at init
    out.recon.sum().backward()  # the zero tail still passes gradients to itself
    assert model.restorer.tail.weight.grad.abs().sum() > 0


def test_unet_has_no_code_to_decode_and_no_bottleneck() -> None:
    model = ConvAE(ConvAEConfig(arch="unet", channels=(8, 16)))
    assert not model.decodable and model.code_shape == (16, 14, 14)
    with pytest.raises(AekitError, match="skip connections") as info:
        model.decode(torch.zeros(1, 16, 14, 14))
    assert "\n" not in str(info.value)
    with pytest.raises(AekitError, match="no latent_dim"):
        ConvAEConfig(arch="unet", latent_dim=8)
    with pytest.raises(AekitError, match="unknown conv-vae arch 'unet'"):
        from aekit.models.vae import ConvVAEConfig

        ConvVAEConfig(arch="unet")


@pytest.mark.parametrize(
    ("args", "arch"),
    [
        ({"task.name": "denoise"}, "unet"),
        ({"task.name": "denoise", "model.arch": "default"}, "default"),
        ({"task.name": "denoise", "model.latent_dim": 8}, "default"),
        ({"task.name": "identity"}, "default"),
    ],
)
def test_denoise_trains_the_unet_unless_the_user_shapes_the_network(args, arch) -> None:
    from aekit.cli.train import build_run_config

    assert build_run_config("conv-ae", None, args, []).model["arch"] == arch
    lesson = build_run_config("conv-ae", None, {"task.name": "denoise"}, [], "lesson")
    assert lesson.model["arch"] == "lesson"
    set_arch = build_run_config("conv-ae", None, {"task.name": "denoise"}, ["model.arch=default"])
    assert set_arch.model["arch"] == "default"
