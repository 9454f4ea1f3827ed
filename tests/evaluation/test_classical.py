from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from aekit.errors import AekitError
from aekit.modalities.images.classical import (
    DENOISERS,
    Choice,
    apply_choice,
    choose_denoisers,
    gaussian_blur,
    median_filter,
    nl_means,
    tv_denoise,
    upsample,
)
from aekit.modalities.images.metrics import psnr
from tests.conftest import shapes_images

# one sensible setting per denoiser for noise std 0.3 (the middle of each grid)
TYPICAL = {"gaussian": 0.75, "median": 3, "tv": 0.15, "nlm": 0.175}


def noisy_pair(n: int = 48, size: int = 16, channels: int = 1, std: float = 0.3, seed: int = 0):
    """(noisy, clean) float (n, C, size, size): shapes plus clipped Gaussian noise."""
    clean = torch.from_numpy(shapes_images(n, size=size, channels=channels, seed=seed)[0]) / 255
    g = torch.Generator().manual_seed(seed)
    noisy = (clean + std * torch.randn(clean.shape, generator=g)).clamp(0, 1)
    return noisy, clean


def test_registry_matches_typical_settings():
    assert set(DENOISERS) == set(TYPICAL)
    for name, (_, grid) in DENOISERS.items():
        assert TYPICAL[name] in grid, name
        assert TYPICAL[name] not in (grid[0], grid[-1]), f"{name}: typical value on the edge"


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("name", sorted(DENOISERS))
def test_each_denoiser_raises_psnr(name, channels):
    noisy, clean = noisy_pair(channels=channels)
    fn, _ = DENOISERS[name]
    out = fn(noisy, TYPICAL[name])
    assert out.shape == noisy.shape and out.dtype == torch.float32
    gain = float(psnr(out, clean).mean() - psnr(noisy, clean).mean())
    assert gain > 1.5, f"{name} on {channels} channels gained only {gain:.2f} dB"


@pytest.mark.parametrize("shape", [(2, 1, 1, 1), (1, 3, 2, 5), (3, 1, 3, 3), (1, 3, 7, 1)])
@pytest.mark.parametrize("name", sorted(DENOISERS))
def test_any_size_keeps_shape_and_range(name, shape):
    # values outside [0, 1] and float64 in: float32 in [0, 1] out, same shape
    x = torch.rand(shape, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    x = x * 1.6 - 0.3
    fn, grid = DENOISERS[name]
    for p in (grid[0], grid[-1]):
        out = fn(x, p)
        assert out.shape == x.shape and out.dtype == torch.float32
        assert out.min() >= 0 and out.max() <= 1


def test_empty_batch_passes_through():
    x = torch.zeros(0, 1, 8, 8)
    for fn, grid in DENOISERS.values():
        assert fn(x, grid[0]).shape == x.shape


def test_rgb_channels_are_not_mixed_by_separable_filters():
    # red-only image: Gaussian and median must leave green and blue at zero
    x = torch.zeros(1, 3, 9, 9)
    x[:, 0, 3:6, 3:6] = 1.0
    for out in (gaussian_blur(x, 1.0), median_filter(x, 3)):
        assert out[:, 1:].abs().max() == 0
        assert out[:, 0].max() > 0


def test_gray_and_single_channel_rgb_agree():
    # a gray image copied into three channels denoises to the same gray in every channel
    noisy, _ = noisy_pair(n=4, size=12)
    rgb = noisy.expand(-1, 3, -1, -1).contiguous()
    for fn in (tv_denoise, nl_means):
        gray_out = fn(noisy, 0.2)
        rgb_out = fn(rgb, 0.2)
        for c in range(3):
            torch.testing.assert_close(rgb_out[:, c : c + 1], gray_out, atol=1e-5, rtol=0)


def test_chosen_parameter_is_the_argmax():
    noisy, clean = noisy_pair(n=32, seed=3)
    choices = choose_denoisers(noisy, clean)
    assert [c.name for c in choices] != [] and {c.name for c in choices} == set(DENOISERS)
    assert [c.val_psnr for c in choices] == sorted((c.val_psnr for c in choices), reverse=True)
    for choice in choices:
        fn, grid = DENOISERS[choice.name]
        scores = [float(psnr(fn(noisy, p), clean).mean()) for p in grid]
        assert choice.param == float(grid[int(np.argmax(scores))])
        assert choice.val_psnr == pytest.approx(max(scores), abs=1e-5)
        torch.testing.assert_close(apply_choice(choice, noisy), fn(noisy, choice.param))


def test_choose_with_clean_input_prefers_no_smoothing():
    _, clean = noisy_pair(n=8)
    grid = {"gaussian": (gaussian_blur, (2.0, 0.0, 1.0)), "median": (median_filter, (3, 1))}
    choices = choose_denoisers(clean, clean, denoisers=grid)
    assert {c.name: c.param for c in choices} == {"gaussian": 0.0, "median": 1.0}
    assert all(c.val_psnr == 100.0 for c in choices)  # PSNR cap of a perfect match


def test_winners_are_inside_the_grids_on_fashion_mnist():
    """The grids were tuned for std 0.3 on Fashion-MNIST: no winner may sit on a grid edge."""
    import aekit

    try:
        data = aekit.load_dataset("fashion-mnist", download=False, limit=1000)
    except AekitError as exc:
        pytest.skip(f"fashion-mnist not on this machine: {exc}")
    clean = torch.from_numpy(data.val.images[:160]) / 255
    g = torch.Generator().manual_seed(0)
    noisy = (clean + 0.3 * torch.randn(clean.shape, generator=g)).clamp(0, 1)
    for choice in choose_denoisers(noisy, clean):
        grid = DENOISERS[choice.name][1]
        assert choice.param not in (grid[0], grid[-1]), choice
        assert choice.val_psnr > float(psnr(noisy, clean).mean()) + 2.5, choice


def smooth_images(size: int = 32) -> torch.Tensor:
    yy, xx = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    img = 0.5 + 0.4 * torch.sin(xx / 3.0) * torch.cos(yy / 4.0)
    return torch.stack([img, img.T.flip(0)])[:, None].float()  # (2, 1, size, size)


@pytest.mark.parametrize("method", ["bicubic", "bilinear", "nearest"])
@pytest.mark.parametrize("scale", [1, 2, 3])
def test_upsample_keeps_constant_images_constant(method, scale):
    x = torch.full((2, 3, 5, 4), 0.37)
    out = upsample(x, scale, method)
    assert out.shape == (2, 3, 5 * scale, 4 * scale) and out.dtype == torch.float32
    torch.testing.assert_close(out, torch.full_like(out, 0.37))


def test_bicubic_beats_nearest_on_a_smooth_image():
    x = smooth_images()
    small = F.avg_pool2d(x, 2)
    scores = {m: float(psnr(upsample(small, 2, m), x).mean()) for m in ("nearest", "bicubic")}
    assert scores["bicubic"] > scores["nearest"] + 3, scores


def test_upsample_clips_bicubic_overshoot():
    x = torch.zeros(1, 1, 6, 6)
    x[..., :, 3:] = 1.0  # a hard edge rings under bicubic
    out = upsample(x, 4, "bicubic")
    assert out.min() == 0 and out.max() == 1


def test_upsample_one_pixel_image():
    assert upsample(torch.full((1, 1, 1, 1), 0.8), 4, "bicubic").shape == (1, 1, 4, 4)


BAD_CALLS = {
    "numpy input": lambda: gaussian_blur(np.zeros((1, 1, 4, 4), np.float32), 1.0),
    "3-d tensor": lambda: median_filter(torch.zeros(1, 4, 4), 3),
    "uint8 tensor": lambda: tv_denoise(torch.zeros(1, 1, 4, 4, dtype=torch.uint8), 0.1),
    "nan": lambda: nl_means(torch.full((1, 1, 4, 4), float("nan")), 0.1),
    "zero channels": lambda: gaussian_blur(torch.zeros(1, 0, 4, 4), 1.0),
    "negative sigma": lambda: gaussian_blur(torch.zeros(1, 1, 4, 4), -1.0),
    "fractional median": lambda: median_filter(torch.zeros(1, 1, 4, 4), 2.5),
    "zero median": lambda: median_filter(torch.zeros(1, 1, 4, 4), 0),
    "zero tv weight": lambda: tv_denoise(torch.zeros(1, 1, 4, 4), 0.0),
    "negative h": lambda: nl_means(torch.zeros(1, 1, 4, 4), -0.1),
    "infinite h": lambda: nl_means(torch.zeros(1, 1, 4, 4), float("inf")),
    "upsample method": lambda: upsample(torch.zeros(1, 1, 4, 4), 2, "lanczos"),
    "upsample scale 0": lambda: upsample(torch.zeros(1, 1, 4, 4), 0, "nearest"),
    "upsample scale 1.5": lambda: upsample(torch.zeros(1, 1, 4, 4), 1.5, "nearest"),
    "choose shape mismatch": lambda: choose_denoisers(
        torch.zeros(2, 1, 4, 4), torch.zeros(2, 1, 4, 5)
    ),
    "choose empty": lambda: choose_denoisers(torch.zeros(0, 1, 4, 4), torch.zeros(0, 1, 4, 4)),
    "choose empty grid": lambda: choose_denoisers(
        torch.zeros(1, 1, 4, 4), torch.zeros(1, 1, 4, 4), denoisers={"g": (gaussian_blur, ())}
    ),
    "unknown choice": lambda: apply_choice(Choice("gaussain", 1.0, 0.0), torch.zeros(1, 1, 4, 4)),
}


@pytest.mark.parametrize("case", sorted(BAD_CALLS))
def test_bad_input_raises_aekit_error(case):
    with pytest.raises(AekitError):
        BAD_CALLS[case]()


def test_error_message_names_the_value_and_the_fix():
    with pytest.raises(AekitError, match=r"uint8.*x\.float\(\) / 255"):
        gaussian_blur(torch.zeros(1, 1, 4, 4, dtype=torch.uint8), 1.0)
    with pytest.raises(AekitError, match="did you mean 'gaussian'"):
        apply_choice(Choice("gaussain", 1.0, 0.0), torch.zeros(1, 1, 4, 4))
