"""The default conv arch's normalisation (`model.norm`): BatchNorm by default (measured best,
docs/distributed.md "BatchNorm"), GroupNorm (no batch statistics, so a data-parallel run does
not depend on the world size) or none, in every family built on the default arch."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from aekit.errors import AekitError
from aekit.models import build_model, spec_of
from aekit.models.conv_ae import group_count

CONV_FAMILIES = ["conv-ae", "conv-vae", "cvae", "aae"]
LAYERS = {"batch": nn.BatchNorm2d, "group": nn.GroupNorm}


def norms_in(model: nn.Module) -> set[type]:
    return {type(m) for m in model.modules() if isinstance(m, (nn.BatchNorm2d, nn.GroupNorm))}


@pytest.mark.parametrize("family", CONV_FAMILIES)
@pytest.mark.parametrize("norm", [None, "batch", "group", "none"])
def test_every_default_arch_family_takes_the_norm(family, norm):
    fields = {**spec_of(family).tiny, "image_shape": [1, 16, 16]}
    if norm is not None:
        fields["norm"] = norm
    model = build_model(family, fields)
    expected = {LAYERS[norm or "batch"]} if (norm or "batch") in LAYERS else set()
    assert norms_in(model) == expected
    out = model(torch.rand(2, 1, 16, 16), torch.tensor([0, 1]) if family == "cvae" else None)
    assert out.recon.shape == (2, 1, 16, 16)


def test_the_lesson_arch_has_no_normalisation_whatever_norm_says():
    counts = {
        norm: sum(p.numel() for p in build_model("conv-ae", arch="lesson", norm=norm).parameters())
        for norm in ("batch", "group", "none")
    }
    assert set(counts.values()) == {4385}  # the lesson's network, untouched


@pytest.mark.parametrize("channels", [1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 64, 100])
def test_groups_divide_the_width_with_two_channels_or_more_each(channels):
    groups = group_count(channels)
    assert channels % groups == 0 and 1 <= groups <= 8
    assert channels // groups >= 2 or groups == 1  # one channel per group only if it is all


def test_an_unknown_norm_is_one_line():
    with pytest.raises(AekitError, match=r"unknown conv-vae norm 'layer'; choose one of") as err:
        build_model("conv-vae", norm="layer")
    assert "\n" not in str(err.value)


def test_the_default_widths_get_eight_groups_as_benchmarked():
    assert [group_count(c) for c in (16, 32, 64)] == [8, 8, 8]  # benchmarks/norm.py's net
