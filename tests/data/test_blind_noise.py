"""Noise ranges drawn per image and Poisson-Gaussian noise: seeded, resumable, old specs kept."""

from __future__ import annotations

import pytest
import torch

from aekit.errors import AekitError
from aekit.modalities.images.noise import PoissonGaussian, add_gaussian_noise, parse_noise
from aekit.modalities.images.tasks import TaskConfig, build_task


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_a_single_level_means_exactly_what_it_meant() -> None:
    x = torch.rand(4, 1, 8, 8, generator=gen(9))
    assert torch.equal(parse_noise("gaussian:0.3")(x, gen()), add_gaussian_noise(x, 0.3, gen()))


def test_a_range_draws_one_sigma_per_image_within_it() -> None:
    x = torch.full((64, 1, 32, 32), 0.5)
    noisy = parse_noise("gaussian:0.05-0.2")(x, gen())  # 0.5 +- 4 sigma stays inside [0, 1]
    stds = (noisy - x).flatten(1).std(dim=1)
    assert stds.min() > 0.04 and stds.max() < 0.21
    assert stds.max() - stds.min() > 0.08  # per image, not one sigma for the batch


def test_draws_are_seeded_and_resume_bitwise_from_the_generator_state() -> None:
    task = build_task(TaskConfig(name="denoise"))  # the default: a range
    assert str(task.noise) == "gaussian:0.05-0.5"
    x = torch.rand(8, 1, 8, 8, generator=gen(1))
    g = gen(3)
    first = task(x, g)[0]
    state = g.get_state()  # what a checkpoint keeps
    second = task(x, g)[0]
    resumed = torch.Generator()
    resumed.set_state(state)
    assert torch.equal(task(x, resumed)[0], second)
    assert torch.equal(task(x, gen(3))[0], first) and not torch.equal(first, second)


def test_poisson_gaussian_variance_is_shot_plus_read_noise() -> None:
    noise = parse_noise("poisson-gaussian:50,0.02")
    assert isinstance(noise, PoissonGaussian) and str(noise) == "poisson-gaussian:50,0.02"
    x = torch.full((16, 1, 32, 32), 0.4)
    noisy = noise(x, gen())
    assert abs(float(noisy.mean()) - 0.4) < 0.01
    expected = (0.4 / 50 + 0.02**2) ** 0.5
    assert abs(float((noisy - x).std()) / expected - 1) < 0.05
    ranged = parse_noise("poisson-gaussian:10-100,0.01-0.05")
    assert torch.equal(ranged(x, gen(2)), ranged(x, gen(2)))
    assert ranged.peak == (10.0, 100.0) and ranged.sigma == (0.01, 0.05)


@pytest.mark.parametrize(
    ("spec", "reason"),
    [
        ("gaussian:0.5-0.1", "high to low"),
        ("gaussian:0.1-abc", "not a number"),
        ("mask:0.1-1.5", r"\[0, 1\]"),
        ("poisson-gaussian:10", "PEAK,SIGMA"),
        ("poisson-gaussian:0,0.1", "PEAK"),
        ("poisson-gaussian:10,-0.1", "SIGMA"),
        ("poison-gaussian:10,0.1", "did you mean 'poisson-gaussian'"),
    ],
)
def test_bad_range_specs_are_one_line_errors(spec: str, reason: str) -> None:
    with pytest.raises(AekitError, match=reason) as info:
        parse_noise(spec)
    assert "\n" not in str(info.value) and repr(spec) in str(info.value)
