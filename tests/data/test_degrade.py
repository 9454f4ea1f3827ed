"""Blind super-resolution inputs: the degradation spec, seeded per-image draws, old runs' kernels,
and the per-kernel evaluation table."""

from __future__ import annotations

import pytest
import torch
from tests.conftest import shapes_images

from aekit.config import from_dict
from aekit.errors import AekitError
from aekit.modalities.images.classical import upsample
from aekit.modalities.images.degrade import (
    BLUR_SIGMA,
    Degradations,
    degrade,
    gaussian_blur,
    parse_degradations,
)
from aekit.modalities.images.metrics import psnr
from aekit.modalities.images.tasks import TaskConfig, build_task, describe_downscale, downscale


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def images(n: int = 16, size: int = 16) -> torch.Tensor:
    return torch.from_numpy(shapes_images(n, size=size, seed=3)[0]).float() / 255.0


# --- the spec ---------------------------------------------------------------------------------


def test_spec_parses_kernels_single_values_and_ranges() -> None:
    assert parse_degradations("") == Degradations()
    spec = parse_degradations(" kernels = area, Blur ; blur=0.3 ; noise=0-0.02 ; jpeg=75-95 ")
    assert spec == Degradations(("area", "blur"), (0.3, 0.3), (0.0, 0.02), (75, 95))
    assert parse_degradations(str(spec)) == spec  # what a run prints reads back the same
    assert parse_degradations("noise=1e-3").noise == (0.001, 0.001)


@pytest.mark.parametrize(
    ("spec", "reason"),
    [
        ("kernels=lanczos", "unknown kernel 'lanczos'"),
        ("kernels=bicubc", r"did you mean 'bicubic'\?"),
        ("kernels=area,area", "a kernel is named twice"),
        ("nois=0.1", r"unknown key 'nois' \(did you mean 'noise'\?\)"),
        ("noise", "'noise' needs a value"),
        ("noise=0.1;noise=0.2", "'noise' is given twice"),
        ("noise=abc", "not a number or a range"),
        ("noise=0.3-0.1", "LO <= HI"),
        ("noise=2", r"noise must lie in \[0, 1\]"),
        ("jpeg=0-50", r"jpeg must lie in \[1, 100\]"),
        ("jpeg=80.5", "whole numbers"),
        ("kernels=area;blur=0.5", "'blur' is not one of the kernels"),
    ],
)
def test_bad_specs_fail_in_one_line_naming_the_setting(spec: str, reason: str) -> None:
    for make in (
        lambda: TaskConfig(name="superres", degradations=spec),
        lambda: from_dict(TaskConfig, {"name": "superres", "degradations": spec}),
    ):
        with pytest.raises(AekitError, match=reason) as caught:
            make()
        message = str(caught.value)
        assert "\n" not in message and message.startswith("bad task.degradations")


def test_task_downscale_takes_random_or_one_kernel() -> None:
    assert TaskConfig().downscale == "random"
    with pytest.raises(AekitError, match="area, bilinear, bicubic or random"):
        TaskConfig(downscale="blur")  # blur has a random sigma: only as one of the kernels


# --- the draws --------------------------------------------------------------------------------


def test_same_generator_state_gives_bitwise_the_same_inputs() -> None:
    x = images()
    task = build_task(TaskConfig(name="superres", degradations="noise=0-0.05;jpeg=60-95"))
    a, target = task(x, gen(7))
    b, _ = task(x, gen(7))
    assert torch.equal(a, b) and torch.equal(target, x)
    assert not torch.equal(a, task(x, gen(8))[0])
    assert a.shape == (16, 1, 8, 8)


def test_different_images_get_different_kernels() -> None:
    one = images(1)
    x = one.expand(64, -1, -1, -1).contiguous()  # the same image 64 times
    small = build_task("superres")(x, gen(0))[0]
    kinds = {
        name: downscale(one, 2, name) for name in ("area", "bilinear", "bicubic")
    }  # fmt: skip
    matched = {
        name: sum(torch.equal(row[None], ref) for row in small) for name, ref in kinds.items()
    }
    assert all(count >= 5 for count in matched.values()), matched  # each about 16 of 64
    blurred = 64 - sum(matched.values())
    assert blurred >= 5  # the rest went through the blur kernel, each with its own sigma
    assert len({tuple(row.flatten().tolist()) for row in small}) >= 3 + min(blurred, 5)


def test_a_batch_draws_the_same_amount_whatever_its_pixels() -> None:
    """Resuming replays the generator: the draws must depend on the batch's shape, not on
    which kernel each image drew or what its pixels are."""
    task = build_task(TaskConfig(name="superres", degradations="noise=0.01;jpeg=70-90"))
    g1, g2 = gen(3), gen(3)
    task(images(), g1)
    task(torch.zeros(16, 1, 16, 16), g2)
    assert torch.equal(g1.get_state(), g2.get_state())


def test_one_kernel_alone_is_that_kernel() -> None:
    x = images()
    for name in ("area", "bilinear", "bicubic"):
        task = build_task(TaskConfig(name="superres", degradations=f"kernels={name}"))
        assert torch.equal(task(x, gen())[0], downscale(x, 2, name))


def test_a_saved_fixed_kernel_run_still_means_that_kernel() -> None:
    """Runs saved before blind training recorded downscale='bicubic' and no degradations."""
    config = from_dict(TaskConfig, {"name": "superres", "scale": 2, "downscale": "bicubic"})
    task = build_task(config)
    x = images()
    assert torch.equal(task(x, gen(0))[0], downscale(x, 2, "bicubic"))
    assert torch.equal(task(x, gen(0))[0], task(x, gen(1))[0])  # draws nothing
    assert describe_downscale(to_table(config)) == "bicubic"
    assert describe_downscale(to_table(TaskConfig())).startswith("a random kernel per image")


def to_table(config: TaskConfig) -> dict:
    from aekit.config import to_dict

    return to_dict(config)


def test_fixed_kernel_with_noise_and_jpeg_degrades_after_the_kernel() -> None:
    x = images()
    task = build_task(
        TaskConfig(name="superres", downscale="area", degradations="noise=0.05;jpeg=50")
    )
    small = task(x, gen())[0]
    assert torch.equal(small, (small * 255).round() / 255)  # 8-bit, as JPEG stores it
    error = (small - downscale(x, 2, "area")).abs().mean()
    assert 0.005 < float(error) < 0.1


def test_blur_sigma_is_in_pixels_and_keeps_brightness() -> None:
    x = torch.zeros(2, 1, 21, 21)
    x[:, :, 10, 10] = 1.0
    y = gaussian_blur(x, torch.tensor([0.5, 2.0], dtype=torch.float64))
    assert torch.allclose(y.sum(dim=(1, 2, 3)), torch.ones(2), atol=1e-5)
    spread = [
        (y[i, 0, 10] * (torch.arange(21) - 10.0) ** 2).sum() / y[i, 0, 10].sum() for i in (0, 1)
    ]
    assert abs(float(spread[0]) ** 0.5 - 0.5) < 0.05 and abs(float(spread[1]) ** 0.5 - 2.0) < 0.05
    assert BLUR_SIGMA[0] < BLUR_SIGMA[1]


def test_degrade_with_a_fixed_kernel_draws_no_kernel() -> None:
    g = gen(1)
    before = g.get_state()
    out = degrade(images(), 2, Degradations(), g, kernel="bicubic")
    assert torch.equal(g.get_state(), before) and out.shape == (16, 1, 8, 8)


# --- the per-kernel table ---------------------------------------------------------------------


def test_sr_table_has_every_kernel_and_scores_baselines_on_the_same_inputs() -> None:
    import numpy as np

    from aekit import build_model
    from aekit.modalities.images.evaluation_sr import evaluate_sr, low_res

    torch.manual_seed(0)
    model = build_model("sr", width=8, depth=3, image_shape=[1, 8, 8])
    rows = shapes_images(6, size=16, seed=4)[0]
    blind = evaluate_sr(model, rows, build_task("superres"))
    assert list(blind.kernels) == ["area", "bilinear", "bicubic", "lanczos", "blur"]
    assert [k for k, r in blind.kernels.items() if not r["seen"]] == ["lanczos"]
    x = torch.from_numpy(np.asarray(rows)).float() / 255
    for kernel in ("area", "lanczos", "blur"):
        small = low_res(x, 2, kernel, Degradations())
        assert torch.equal(small, (small * 255).round() / 255)
        row = blind.kernels[kernel]
        bicubic = float(psnr(upsample(small, 2, "bicubic"), x).mean())
        with torch.no_grad():
            ours = float(psnr(model(small).recon, x).mean())
        assert row["bicubic_psnr"] == pytest.approx(bicubic, abs=1e-4)
        assert row["model_psnr"] == pytest.approx(ours, abs=1e-4)
        assert row["gain_db"] == pytest.approx(ours - bicubic, abs=1e-4)
    # the kernels differ, so their rows do
    assert blind.kernels["area"]["bicubic_psnr"] != blind.kernels["lanczos"]["bicubic_psnr"]
    fixed = evaluate_sr(model, rows, build_task(TaskConfig(name="superres", downscale="area")))
    assert list(fixed.kernels) == ["area", "bilinear", "bicubic", "lanczos"]
    assert [k for k, r in fixed.kernels.items() if r["seen"]] == ["area"]
    text = fixed.table()
    assert "lanczos *" in text and "trained on area" in text and len(text.splitlines()) == 6
    assert fixed.to_dict()["kernels"]["area"]["gain_db"] == fixed.kernels["area"]["gain_db"]
