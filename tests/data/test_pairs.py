"""Data tasks: corruption statistics, seeded determinism, downscaling, task shapes, bad specs."""

from __future__ import annotations

import pytest
import torch

from aekit.config import from_dict
from aekit.errors import AekitError
from aekit.modalities.images.tasks import (
    DenoiseTask,
    IdentityTask,
    SuperResTask,
    TaskConfig,
    add_gaussian_noise,
    add_lesson_noise,
    build_task,
    downscale,
    identity,
    parse_noise,
    random_mask,
    salt_and_pepper,
)

SPECS = ["gaussian:0.2", "lesson:0.2", "salt-pepper:0.1", "mask:0.3"]


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def gray(value: float, shape: tuple[int, ...] = (4, 1, 64, 64)) -> torch.Tensor:
    return torch.full(shape, value)


# --- noise statistics -------------------------------------------------------------------------


def test_gaussian_noise_is_zero_mean_with_the_given_std() -> None:
    x = gray(0.5)  # 5 std from either bound: clipping is negligible
    noise = add_gaussian_noise(x, 0.1, gen()) - x
    assert abs(noise.mean().item()) < 0.005
    assert noise.std().item() == pytest.approx(0.1, rel=0.03)


def test_gaussian_noise_is_clipped_to_unit_range() -> None:
    y = add_gaussian_noise(torch.rand(2, 3, 16, 16), 1.0, gen())
    assert y.min() >= 0 and y.max() <= 1
    assert (y == 0).any() and (y == 1).any()


def test_lesson_noise_shifts_the_mean_by_half() -> None:
    x = gray(0.2)  # 0.2 + 0.5 = 0.7 sits 3 std below the clip at 1
    shift = add_lesson_noise(x, 0.1, gen()) - x
    assert shift.mean().item() == pytest.approx(0.5, abs=0.01)
    assert shift.std().item() == pytest.approx(0.1, rel=0.05)


def test_lesson_noise_brightens_bright_images_into_saturation() -> None:
    y = add_lesson_noise(gray(0.8), 0.1, gen())
    assert y.max() <= 1 and (y == 1).float().mean() > 0.99


def test_zero_noise_leaves_images_unchanged() -> None:
    x = torch.rand(2, 3, 8, 8)
    assert torch.equal(add_gaussian_noise(x, 0.0, gen()), x)
    assert torch.equal(salt_and_pepper(x, 0.0, gen()), x)
    assert torch.equal(random_mask(x, 0.0, gen()), x)


def test_salt_and_pepper_hits_the_fraction_with_equal_odds_across_channels() -> None:
    x = gray(0.5, (8, 3, 64, 64))
    y = salt_and_pepper(x, 0.2, gen())
    hit = y != 0.5  # (B, 3, H, W)
    assert torch.equal(hit, hit[:, :1].expand_as(hit))  # same pixels in every channel
    assert torch.equal(y, y[:, :1].expand_as(y))  # and the same value (0 or 1)
    assert hit[:, 0].float().mean().item() == pytest.approx(0.2, abs=0.01)
    salt = (y[:, 0][hit[:, 0]] == 1).float().mean().item()
    assert salt == pytest.approx(0.5, abs=0.03)
    assert set(y[hit].unique().tolist()) == {0.0, 1.0}


def test_salt_and_pepper_at_one_replaces_every_pixel() -> None:
    y = salt_and_pepper(gray(0.5), 1.0, gen())
    assert set(y.unique().tolist()) == {0.0, 1.0}


def test_mask_zeroes_the_fraction_in_every_channel() -> None:
    x = torch.rand(8, 3, 64, 64) * 0.9 + 0.1  # no zeros of its own
    y = random_mask(x, 0.3, gen())
    zero = y == 0
    assert torch.equal(zero, zero[:, :1].expand_as(zero))
    assert zero[:, 0].float().mean().item() == pytest.approx(0.3, abs=0.01)
    assert torch.equal(y[~zero], x[~zero])  # kept pixels are untouched
    assert (random_mask(x, 1.0, gen()) == 0).all()


def test_corruptions_keep_dtype_and_never_modify_the_input() -> None:
    x = torch.rand(2, 3, 8, 8, dtype=torch.float64)
    before = x.clone()
    for spec in SPECS:
        assert parse_noise(spec)(x, gen()).dtype == torch.float64
    assert torch.equal(x, before)


# --- determinism ------------------------------------------------------------------------------


@pytest.mark.parametrize("spec", SPECS)
def test_noise_is_seeded_fresh_per_call_and_seed_dependent(spec: str) -> None:
    noise, x = parse_noise(spec), gray(0.5, (2, 3, 16, 16))
    assert torch.equal(noise(x, gen(1)), noise(x, gen(1)))  # same seed, same noise
    assert not torch.equal(noise(x, gen(1)), noise(x, gen(2)))  # different seeds differ
    g = gen(1)
    assert not torch.equal(noise(x, g), noise(x, g))  # consecutive batches get fresh noise


def test_noise_does_not_touch_the_global_rng() -> None:
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    for spec in SPECS:
        parse_noise(spec)(gray(0.5, (1, 1, 4, 4)), gen())
    assert torch.equal(torch.rand(3), expected)


# --- parse_noise ------------------------------------------------------------------------------


def test_parse_noise_accepts_every_form() -> None:
    assert str(parse_noise("gaussian:0.3")) == "gaussian:0.3"
    assert str(parse_noise(" Salt-Pepper:0.05 ")) == "salt-pepper:0.05"
    assert parse_noise("mask:1").level == 1.0 and parse_noise("lesson:0").level == 0.0


@pytest.mark.parametrize(
    ("spec", "reason"),
    [
        ("gauss:0.1", "did you mean 'gaussian'"),
        ("blur:2", "unknown kind 'blur'"),
        ("gaussian", "exactly one value"),
        ("gaussian:", "exactly one value"),
        ("gaussian:0.1:0.2", "exactly one value"),
        ("gaussian:abc", "'abc' is not a number"),
        ("gaussian:-0.1", ">= 0"),
        ("lesson:nan", "finite"),
        ("gaussian:inf", "finite"),
        ("salt-pepper:1.5", r"\[0, 1\]"),
        ("mask:-0.1", r"\[0, 1\]"),
        ("", "unknown kind"),
    ],
)
def test_bad_noise_specs_are_one_line_errors(spec: str, reason: str) -> None:
    with pytest.raises(AekitError, match=reason) as info:
        parse_noise(spec)
    message = str(info.value)
    assert repr(spec) in message and "gaussian:STD" in message and "mask:FRACTION" in message
    assert "\n" not in message


# --- downscale --------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["area", "bilinear", "bicubic"])
@pytest.mark.parametrize("scale", [2, 4])
def test_downscale_shapes(method: str, scale: int) -> None:
    y = downscale(torch.rand(2, 3, 32, 48), scale, method)
    assert y.shape == (2, 3, 32 // scale, 48 // scale)


def test_area_downscale_of_constant_blocks_is_exact() -> None:
    small = torch.rand(2, 3, 8, 8)
    big = small.repeat_interleave(2, dim=2).repeat_interleave(2, dim=3)  # 2x2 constant blocks
    assert torch.equal(downscale(big, 2, "area"), small)


def test_bicubic_stays_in_unit_range_on_hard_edges() -> None:
    x = (torch.rand(4, 3, 32, 32, generator=gen()) > 0.5).float()  # worst case for overshoot
    y = downscale(x, 2, "bicubic")
    assert y.min() >= 0 and y.max() <= 1


def test_downscale_of_a_constant_image_is_constant() -> None:
    for method in ("area", "bilinear", "bicubic"):
        assert torch.allclose(downscale(gray(0.3), 4, method), torch.tensor(0.3))


def test_downscale_rejects_sizes_not_divisible_by_scale() -> None:
    with pytest.raises(AekitError, match=r"30x30 .* scale 4.*data\.image_size=28") as info:
        downscale(torch.rand(1, 1, 30, 30), 4, "area")
    assert "patch size" in str(info.value)


@pytest.mark.parametrize(
    ("scale", "method", "reason"),
    [(0, "area", "positive integer"), (2.0, "area", "positive integer"),
     (True, "area", "positive integer"), (2, "nearest", "area, bilinear, bicubic")],
)  # fmt: skip
def test_downscale_rejects_bad_arguments(scale: object, method: str, reason: str) -> None:
    with pytest.raises(AekitError, match=reason):
        downscale(torch.rand(1, 1, 8, 8), scale, method)  # type: ignore[arg-type]


# --- tasks ------------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(4, 1, 28, 28), (4, 3, 32, 32)])
def test_task_pairs_and_input_shapes(shape: tuple[int, int, int, int]) -> None:
    x = torch.rand(shape)
    image = shape[1:]
    for name in ("identity", "denoise"):
        task = build_task(name)
        inputs, target = task(x, gen())
        assert inputs.shape == x.shape and target is x
        assert task.input_shape(image) == image
    for scale in (2, 4):
        task = build_task(TaskConfig(name="superres", scale=scale))
        inputs, target = task(x, gen())
        low = (shape[1], shape[2] // scale, shape[3] // scale)
        assert inputs.shape == (shape[0], *low) and target is x
        assert task.input_shape(image) == low


def test_identity_returns_the_batch_itself() -> None:
    x = torch.rand(2, 1, 4, 4)
    assert identity(x, gen()) == (x, x)
    assert identity.__name__ == "identity"  # the trainer records plain tasks by name
    assert IdentityTask()(x, gen()) == (x, x)


def test_denoise_uses_the_configured_noise_and_keeps_a_clean_target() -> None:
    x = gray(0.5, (2, 3, 16, 16))
    task = build_task(TaskConfig(name="denoise", noise="salt-pepper:0.5"))
    assert isinstance(task, DenoiseTask) and task.config.noise == "salt-pepper:0.5"
    inputs, target = task(x, gen())
    assert set(inputs.unique().tolist()) == {0.0, 0.5, 1.0}
    assert torch.equal(target, gray(0.5, (2, 3, 16, 16)))


def test_superres_uses_the_configured_method() -> None:
    x = torch.rand(2, 3, 16, 16)
    task = build_task(TaskConfig(name="superres", scale=2, downscale="area"))
    assert isinstance(task, SuperResTask)
    assert torch.equal(task(x, gen())[0], downscale(x, 2, "area"))
    assert torch.equal(task(x, gen(0))[0], task(x, gen(1))[0])  # downscaling draws nothing


def test_superres_input_shape_rejects_indivisible_images() -> None:
    task = build_task(TaskConfig(name="superres", scale=4))
    with pytest.raises(AekitError, match=r"30x30.*data\.image_size=28"):
        task.input_shape((1, 30, 30))
    with pytest.raises(AekitError, match="30x30"):
        task(torch.rand(1, 1, 30, 30), gen())


def test_tasks_reject_batches_that_are_not_4d() -> None:
    with pytest.raises(AekitError, match=r"\(B, C, H, W\)"):
        build_task("denoise")(torch.rand(1, 28, 28), gen())


def test_build_task_by_name_and_config() -> None:
    assert isinstance(build_task("identity"), IdentityTask)
    assert build_task("superres").config == TaskConfig(name="superres")
    assert build_task(TaskConfig(name="denoise", noise="mask:0.1")).noise.kind == "mask"


def test_unknown_task_suggests_the_closest_name() -> None:
    with pytest.raises(AekitError, match=r"unknown task 'denoize' \(did you mean 'denoise'\?\)"):
        build_task("denoize")
    with pytest.raises(AekitError, match="identity, denoise, superres"):
        build_task(TaskConfig(name="inpaint"))


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"scale": 3}, "task.scale must be 2 or 4, got 3"),
        ({"downscale": "lanczos"}, "task.downscale must be one of area, bilinear, bicubic"),
        ({"noise": "gaussian:-1"}, "bad noise spec 'gaussian:-1'"),
    ],
)
def test_task_config_validates_its_fields(fields: dict, reason: str) -> None:
    with pytest.raises(AekitError, match=reason):
        TaskConfig(**fields)
    with pytest.raises(AekitError, match=reason):  # the path config files and --set take
        from_dict(TaskConfig, {"name": "superres", **fields})


def test_task_config_rejects_a_boolean_scale() -> None:
    with pytest.raises(AekitError, match="task.scale must be 2 or 4, got True"):
        TaskConfig(scale=True)


def test_task_config_leaves_names_to_build_task() -> None:
    # The trainer records hand-written tasks by function name; those runs must still load.
    assert TaskConfig(name="my_task").name == "my_task"


def test_random_crops_are_real_windows_at_fresh_places():
    from aekit.modalities.images.tasks import random_crops

    x = torch.arange(2 * 3 * 10 * 12, dtype=torch.float32).view(2, 3, 10, 12) / 1000
    g = torch.Generator().manual_seed(0)
    crops = random_crops(x, 4, g)
    assert crops.shape == (2, 3, 4, 4)
    for i in range(2):  # each crop is a contiguous window of its own image
        top = int((crops[i, 0, 0, 0] * 1000 - i * 360) // 12)
        left = int((crops[i, 0, 0, 0] * 1000 - i * 360) % 12)
        assert torch.equal(crops[i], x[i, :, top : top + 4, left : left + 4])
    assert not torch.equal(random_crops(x, 4, g), crops)  # the next batch crops elsewhere


def test_patch_task_wraps_any_task():
    task = build_task(TaskConfig(name="superres", scale=2, patch=8))
    x = torch.rand(3, 3, 20, 24)
    inputs, target = task(x, torch.Generator().manual_seed(1))
    assert inputs.shape == (3, 3, 4, 4) and target.shape == (3, 3, 8, 8)
    assert task.input_shape((3, 20, 24)) == (3, 4, 4)
    assert task.config.patch == 8
    with pytest.raises(AekitError, match="smaller than the patch size 8"):
        task.input_shape((3, 6, 24))
    with pytest.raises(AekitError, match="task.patch must be a size >= 1"):
        TaskConfig(patch=0)


def test_dynamic_binarization_draws_fresh_bernoulli_pixels_each_batch():
    task = build_task(TaskConfig(binarize=True))
    x = torch.full((64, 1, 16, 16), 0.25)
    x[:, :, :8] = 0.9
    g = torch.Generator().manual_seed(0)
    inputs, target = task(x, g)
    assert torch.equal(inputs, target)  # identity: the model reconstructs the binary image
    assert set(target.unique().tolist()) == {0.0, 1.0}
    assert abs(float(target[:, :, :8].mean()) - 0.9) < 0.02  # P(pixel = 1) is its intensity
    assert abs(float(target[:, :, 8:].mean()) - 0.25) < 0.02
    again, _ = task(x, g)
    assert not torch.equal(again, target)  # a fresh draw every batch
    replay, _ = task(x, torch.Generator().manual_seed(0))
    assert torch.equal(replay, target)  # ... from the trainer's seeded generator
    denoise = build_task(TaskConfig(name="denoise", noise="mask:0.5", binarize=True, patch=8))
    noisy, clean = denoise(x, g)
    assert clean.shape == (64, 1, 8, 8) and set(clean.unique().tolist()) <= {0.0, 1.0}
    assert float((noisy == 0).float().mean()) > float((clean == 0).float().mean())
