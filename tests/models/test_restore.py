"""conv-ae arch unet: shapes, identity at init, no code to decode, the denoise task's default."""

from __future__ import annotations

import pytest
import torch

from aekit.errors import AekitError
from aekit.models.conv_ae import ConvAE, ConvAEConfig


@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 15, 17), (1, 8, 8)])
def test_unet_keeps_any_shape_and_starts_as_the_identity(shape) -> None:
    model = ConvAE(ConvAEConfig(image_shape=shape, arch="unet", channels=(8, 16), loss="mse"))
    x = torch.rand(2, *shape, generator=torch.Generator().manual_seed(0))
    out = model(x)
    assert out.recon.shape == x.shape and out.logits is None  # pixels, not logits
    torch.testing.assert_close(out.recon, x, rtol=0, atol=0)  # residual learning: r = 0 at init
    out.recon.sum().backward()  # the zero tail still passes gradients to itself
    assert model.restorer.tail.weight.grad.abs().sum() > 0


def test_unet_output_is_clamped_outside_training_only() -> None:
    model = ConvAE(ConvAEConfig(arch="unet", channels=(8, 16), loss="mse"))
    torch.nn.init.constant_(model.restorer.tail.bias, 0.5)  # r = +0.5 everywhere
    x = torch.full((2, 1, 28, 28), 0.8)
    assert model(x).recon.max() > 1.2  # training: unclamped, so MSE has a gradient everywhere
    model.eval()
    assert model(x).recon.max() == 1.0


def test_unet_has_no_code_to_decode_and_no_bottleneck() -> None:
    model = ConvAE(ConvAEConfig(arch="unet", channels=(8, 16), loss="mse"))
    assert not model.decodable and model.code_shape == (16, 14, 14)
    with pytest.raises(AekitError, match="skip connections") as info:
        model.decode(torch.zeros(1, 16, 14, 14))
    assert "\n" not in str(info.value)
    with pytest.raises(AekitError, match="no latent_dim"):
        ConvAEConfig(arch="unet", latent_dim=8, loss="mse")
    with pytest.raises(AekitError, match="trains on loss mse, not 'bce'"):
        ConvAEConfig(arch="unet")
    with pytest.raises(AekitError, match="unknown conv-vae arch 'unet'"):
        from aekit.models.vae import ConvVAEConfig

        ConvVAEConfig(arch="unet")


@pytest.mark.parametrize(
    ("args", "arch", "loss"),
    [
        ({"task.name": "denoise"}, "unet", "mse"),
        ({"task.name": "denoise", "model.arch": "unet"}, "unet", "mse"),
        ({"task.name": "denoise", "model.arch": "default"}, "default", "bce"),
        ({"task.name": "denoise", "model.latent_dim": 8}, "default", "bce"),
        ({"task.name": "identity"}, "default", "bce"),
    ],
)
def test_denoise_trains_the_unet_unless_the_user_shapes_the_network(args, arch, loss) -> None:
    from aekit.cli.train import build_run_config

    config = build_run_config("conv-ae", None, args, [])
    assert (config.model["arch"], config.model["loss"]) == (arch, loss)
    lesson = build_run_config("conv-ae", None, {"task.name": "denoise"}, [], "lesson")
    assert (lesson.model["arch"], lesson.model["loss"]) == ("lesson", "bce")
    set_arch = build_run_config("conv-ae", None, {"task.name": "denoise"}, ["model.arch=default"])
    assert set_arch.model["arch"] == "default"
    set_unet = build_run_config("conv-ae", None, {"task.name": "denoise"}, ['model.arch="unet"'])
    assert (set_unet.model["arch"], set_unet.model["loss"]) == ("unet", "mse")
