"""The sr family's archs: residual (the default: ESPCN over a bicubic skip), espcn (saved as
"default" before issue 14) and lesson."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from aekit import build_model
from aekit.config import from_dict
from aekit.models.sr import SRConfig


def test_the_default_arch_is_residual_and_old_default_runs_are_espcn():
    assert SRConfig().arch == "residual"
    old = from_dict(SRConfig, {"arch": "default", "image_shape": [1, 14, 14]})  # a saved run
    torch.manual_seed(0)
    before = build_model("sr", old)
    torch.manual_seed(0)
    espcn = build_model("sr", arch="espcn", image_shape=[1, 14, 14])
    x = torch.rand(3, 1, 14, 14)
    assert torch.equal(before(x).recon, espcn(x).recon)
    assert torch.equal(before(x).recon, torch.sigmoid(before(x).logits))  # sigmoid output


@pytest.mark.parametrize("scale", [2, 4])
def test_residual_adds_the_network_to_a_bicubic_upsample(scale):
    torch.manual_seed(0)
    model = build_model("sr", scale=scale, width=8, depth=3, image_shape=[1, 7, 7])
    x = torch.rand(2, 1, 7, 7)
    with torch.no_grad():
        for p in model.decoder.parameters():
            p.zero_()  # no residual: the output is the clipped bicubic upsample
        skip = F.interpolate(x, scale_factor=scale, mode="bicubic", align_corners=False)
        assert torch.equal(model(x).recon, skip.clamp(0, 1))
        assert model(x).logits is None and model.decode(model.encode(x)).shape == skip.shape


def test_residual_output_is_clipped_but_its_gradient_is_not():
    torch.manual_seed(0)
    model = build_model("sr", width=8, depth=3, image_shape=[1, 4, 4])
    with torch.no_grad():
        model.decoder[0].bias.fill_(5.0)  # every pixel pushed far above 1
    x = torch.rand(2, 1, 4, 4)
    out = model(x)
    assert torch.equal(out.recon, torch.ones_like(out.recon))
    model.loss(out, torch.zeros(2, 1, 8, 8)).loss.backward()
    grad = model.decoder[0].bias.grad
    assert grad is not None and bool((grad > 0).all())  # it learns its way back down
