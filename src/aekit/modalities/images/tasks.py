"""(input, target) builders: what a model learns to undo is a property of the data, not the model.

A task takes a clean float batch (B, C, H, W) in [0, 1] and a torch.Generator and returns
(input, target). Plain autoencoding is `identity`; denoising and super-resolution are tasks too
(DESIGN.md: data tasks, not model subclasses), so any model family can learn either.

Every random draw comes from the generator the caller passes, never from torch's global RNG:
the trainer seeds it per epoch and saves its state in checkpoints, so a run is reproducible and
resumes bit for bit. The trainer calls a task once per batch, so each batch gets fresh noise.

Noise draws are made on the generator's device and then moved to the batch's, so a CPU
generator works with a GPU batch and the same seed gives the same noise on any device.

    task = build_task(TaskConfig(name="denoise", noise="salt-pepper:0.1"))
    inputs, target = task(x, torch.Generator().manual_seed(0))   # inputs corrupted, target = x

Super-resolution follows SRCNN and ESPCN (Dong et al. 2014, https://arxiv.org/abs/1501.00092;
Shi et al. 2016, https://arxiv.org/abs/1609.05158): the low-res input is the clean image
downscaled. It is antialiased, as a camera's optics would be; a model trained on aliased inputs
learns to undo artifacts that real low-res images do not have.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from aekit.config import TaskConfig
from aekit.errors import AekitError

Task = Callable[[torch.Tensor, torch.Generator], tuple[torch.Tensor, torch.Tensor]]
Corruption = Callable[[torch.Tensor, torch.Generator], torch.Tensor]  # what parse_noise returns

SCALES = (2, 4)  # what the sr model family supports
DOWNSCALE_METHODS = ("area", "bilinear", "bicubic")
NOISE_FORMS = "gaussian:STD, lesson:STD, salt-pepper:AMOUNT or mask:FRACTION (e.g. gaussian:0.3)"


# --- corruptions: pure functions, all randomness from `generator` -----------------------------


def _rand(shape: tuple[int, ...], generator: torch.Generator, like: torch.Tensor) -> torch.Tensor:
    """Uniform [0, 1) draws of `shape`, made on the generator's device, then put beside `like`."""
    u = torch.rand(shape, generator=generator, device=generator.device)
    return u.to(device=like.device, dtype=like.dtype)


def _randn(shape: tuple[int, ...], generator: torch.Generator, like: torch.Tensor) -> torch.Tensor:
    """Standard normal draws of `shape`, made on the generator's device, then put beside `like`."""
    z = torch.randn(shape, generator=generator, device=generator.device)
    return z.to(device=like.device, dtype=like.dtype)


def _check_batch(x: torch.Tensor) -> None:
    if x.dim() != 4:
        raise AekitError(f"tasks take image batches (B, C, H, W), got shape {tuple(x.shape)}")


def _pixel_shape(x: torch.Tensor) -> tuple[int, ...]:
    """(B, 1, H, W): one draw per pixel, shared by its channels (a dead pixel is dead in RGB)."""
    _check_batch(x)
    b, _, h, w = x.shape
    return (b, 1, h, w)


def add_gaussian_noise(x: torch.Tensor, std: float, generator: torch.Generator) -> torch.Tensor:
    """x + N(0, std^2) per pixel and channel, then clipped to [0, 1].

    Zero-mean, so brightness is kept on average; clipping makes the noise on near-black and
    near-white pixels one-sided (it can only push them inward), as in any real 8-bit image.
    """
    return (x + std * _randn(tuple(x.shape), generator, x)).clamp_(0.0, 1.0)


def add_lesson_noise(x: torch.Tensor, std: float, generator: torch.Generator) -> torch.Tensor:
    """The lesson's corruption: x + N(mean=0.5, std^2), then clipped to [0, 1].

    The noise is *not* zero-mean: every pixel is brightened by 0.5 on average, so most of a
    bright image saturates at 1 and the "denoiser" mostly learns to darken. That is what the
    lesson did; it is kept to reproduce it. Use ``gaussian:STD`` for zero-mean noise.
    """
    return (x + 0.5 + std * _randn(tuple(x.shape), generator, x)).clamp_(0.0, 1.0)


def salt_and_pepper(x: torch.Tensor, amount: float, generator: torch.Generator) -> torch.Tensor:
    """Each pixel, with probability `amount`, becomes 0 or 1 (equal odds) in every channel."""
    shape = _pixel_shape(x)
    hit = _rand(shape, generator, x) < amount  # (B, 1, H, W)
    salt = _rand(shape, generator, x) < 0.5  # drawn for every pixel so the draw count is fixed
    value = salt.to(x.dtype).expand_as(x)
    return torch.where(hit.expand_as(x), value, x)


def random_mask(x: torch.Tensor, fraction: float, generator: torch.Generator) -> torch.Tensor:
    """Each pixel, with probability `fraction`, is zeroed in every channel (inpainting input)."""
    keep = _rand(_pixel_shape(x), generator, x) >= fraction  # (B, 1, H, W)
    return x * keep.to(x.dtype)


_NOISES: dict[str, tuple[Callable[[torch.Tensor, float, torch.Generator], torch.Tensor], bool]] = {
    # kind -> (function, level is a probability in [0, 1])
    "gaussian": (add_gaussian_noise, False),
    "lesson": (add_lesson_noise, False),
    "salt-pepper": (salt_and_pepper, True),
    "mask": (random_mask, True),
}


@dataclass(frozen=True)
class Noise:
    """A parsed noise spec such as ``gaussian:0.3``, callable as ``noise(x, generator)``."""

    kind: str  # a key of _NOISES
    level: float  # std for gaussian/lesson, a probability for salt-pepper/mask

    def __call__(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        return _NOISES[self.kind][0](x, self.level, generator)

    def __str__(self) -> str:
        return f"{self.kind}:{self.level:g}"


def parse_noise(spec: str) -> Noise:
    """``"gaussian:0.3"`` -> a corruption; any malformed spec is a one-line AekitError."""

    def bad(reason: str) -> AekitError:
        return AekitError(f"bad noise spec {spec!r}: {reason}; use {NOISE_FORMS}")

    if not isinstance(spec, str):
        raise bad(f"expected a string, got {type(spec).__name__}")
    parts = spec.strip().split(":")
    kind = parts[0].strip().lower()
    if kind not in _NOISES:
        close = difflib.get_close_matches(kind, _NOISES, n=1)
        raise bad(f"unknown kind {kind!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
    if len(parts) != 2 or not parts[1].strip():
        raise bad(f"expected exactly one value after {kind!r}")
    try:
        level = float(parts[1])
    except ValueError:
        raise bad(f"{parts[1].strip()!r} is not a number") from None
    if not math.isfinite(level):
        raise bad("the value must be a finite number")
    if _NOISES[kind][1] and not 0.0 <= level <= 1.0:
        raise bad(f"{kind} takes a fraction of pixels in [0, 1], got {level:g}")
    if level < 0:
        raise bad(f"{kind} takes a standard deviation >= 0, got {level:g}")
    return Noise(kind, level)


# --- downscaling --------------------------------------------------------------------------------


def _check_divisible(h: int, w: int, scale: int) -> None:
    if h % scale or w % scale:
        size = max(scale, min(h, w) // scale * scale)
        raise AekitError(
            f"image size {h}x{w} is not divisible by the super-resolution scale {scale}; "
            f"use --set data.image_size={size} (or a patch size that is a multiple of {scale})"
        )


def _check_scale(scale: int) -> None:
    if isinstance(scale, bool) or not isinstance(scale, int) or scale < 1:
        raise AekitError(f"scale must be a positive integer such as 2 or 4, got {scale!r}")


def downscale(x: torch.Tensor, scale: int, method: str = "bicubic") -> torch.Tensor:
    """(B, C, H, W) -> (B, C, H/scale, W/scale) in [0, 1].

    ``area`` averages each scale x scale block (exact, no ringing); ``bilinear`` and ``bicubic``
    use antialiased interpolation, as image libraries do when shrinking, clamped back to [0, 1]
    because bicubic weights are partly negative and overshoot at edges.
    """
    _check_scale(scale)
    if method not in DOWNSCALE_METHODS:
        raise AekitError(
            f"unknown downscale method {method!r}; choose one of {', '.join(DOWNSCALE_METHODS)}"
        )
    _check_batch(x)
    h, w = int(x.shape[-2]), int(x.shape[-1])
    _check_divisible(h, w, scale)
    if method == "area":
        return F.avg_pool2d(x, scale)
    size = (h // scale, w // scale)
    small = F.interpolate(x, size=size, mode=method, align_corners=False, antialias=True)
    return small.clamp_(0.0, 1.0)


# --- tasks --------------------------------------------------------------------------------------


def _shape3(image_shape: tuple[int, int, int]) -> tuple[int, int, int]:
    if len(image_shape) != 3:
        raise AekitError(f"image_shape must be (C, H, W), got {tuple(image_shape)}")
    c, h, w = image_shape
    return int(c), int(h), int(w)


def identity(x: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Reconstruct the input itself: the plain autoencoder."""
    return x, x


@dataclass(frozen=True)
class IdentityTask:
    """input = target = x: the plain autoencoder, with a config so runs record it."""

    config: TaskConfig = field(default_factory=TaskConfig)

    def __call__(
        self, x: torch.Tensor, generator: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor]:
        return identity(x, generator)

    def input_shape(self, image_shape: tuple[int, int, int]) -> tuple[int, int, int]:
        """The model sees the images as they are."""
        return _shape3(image_shape)


@dataclass(frozen=True)
class DenoiseTask:
    """input = a corrupted copy of x (``config.noise``), target = x."""

    config: TaskConfig = field(default_factory=lambda: TaskConfig(name="denoise"))
    # Parsed once here, so a bad spec fails before training rather than at the first batch.
    noise: Noise = field(init=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "noise", parse_noise(self.config.noise))

    def __call__(
        self, x: torch.Tensor, generator: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor]:
        _check_batch(x)  # gaussian noise alone would accept any shape
        return self.noise(x, generator), x

    def input_shape(self, image_shape: tuple[int, int, int]) -> tuple[int, int, int]:
        """Noise does not change the shape."""
        return _shape3(image_shape)


@dataclass(frozen=True)
class SuperResTask:
    """input = x downscaled by ``config.scale`` (``config.downscale``), target = x."""

    config: TaskConfig = field(default_factory=lambda: TaskConfig(name="superres"))

    def __call__(
        self, x: torch.Tensor, generator: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor]:
        # Deterministic: the generator is unused, and the target stays full size.
        return downscale(x, self.config.scale, self.config.downscale), x

    def input_shape(self, image_shape: tuple[int, int, int]) -> tuple[int, int, int]:
        """(C, H, W) -> (C, H/scale, W/scale): what an sr model's ``image_shape`` must be."""
        c, h, w = _shape3(image_shape)
        _check_divisible(h, w, self.config.scale)
        return (c, h // self.config.scale, w // self.config.scale)


TASKS: dict[str, type[IdentityTask | DenoiseTask | SuperResTask]] = {
    "identity": IdentityTask,
    "denoise": DenoiseTask,
    "superres": SuperResTask,
}


@dataclass(frozen=True)
class BinarizeTask:
    """`task` applied to a dynamically binarized batch: pixel ~ Bernoulli(intensity), drawn
    from the trainer's generator, so every batch (and a resumed run) gets its own fresh draw."""

    task: IdentityTask | DenoiseTask | SuperResTask

    @property
    def config(self) -> TaskConfig:
        return self.task.config

    def __call__(
        self, x: torch.Tensor, generator: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor]:
        return self.task(torch.bernoulli(x, generator=generator), generator)

    def input_shape(self, image_shape: tuple[int, int, int]) -> tuple[int, int, int]:
        return self.task.input_shape(image_shape)


@dataclass(frozen=True)
class PatchTask:
    """`task` applied to a random patch x patch crop of each image (a new place every batch):
    how large photos and RGB sets train at a fixed, cheap size."""

    task: IdentityTask | DenoiseTask | SuperResTask | BinarizeTask

    @property
    def config(self) -> TaskConfig:
        return self.task.config

    def __call__(
        self, x: torch.Tensor, generator: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor]:
        return self.task(random_crops(x, self.config.patch, generator), generator)

    def input_shape(self, image_shape: tuple[int, int, int]) -> tuple[int, int, int]:
        c, h, w = _shape3(image_shape)
        p = self.config.patch
        if p > h or p > w:
            raise AekitError(
                f"images of {w}x{h} are smaller than the patch size {p}; choose task.patch <= "
                f"{min(h, w)} or larger images"
            )
        return self.task.input_shape((c, p, p))


def random_crops(x: torch.Tensor, size: int, generator: torch.Generator) -> torch.Tensor:
    """One random size x size crop per image: (B, C, H, W) -> (B, C, size, size)."""
    _check_batch(x)
    b, _, h, w = x.shape
    if size > h or size > w:
        raise AekitError(f"images of {w}x{h} are smaller than the patch size {size}")
    tops = torch.randint(0, h - size + 1, (b,), generator=generator, device=generator.device)
    lefts = torch.randint(0, w - size + 1, (b,), generator=generator, device=generator.device)
    return torch.stack([
        x[i, :, t : t + size, left : left + size]
        for i, (t, left) in enumerate(zip(tops.tolist(), lefts.tolist(), strict=True))
    ])  # fmt: skip


def build_task(
    config: TaskConfig | str,
) -> IdentityTask | DenoiseTask | SuperResTask | BinarizeTask | PatchTask:
    """The task a config names; a bare name (``"denoise"``) uses that task's defaults."""
    if isinstance(config, str):
        config = TaskConfig(name=config)
    name = config.name
    if name not in TASKS:
        close = difflib.get_close_matches(name, TASKS, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise AekitError(f"unknown task {name!r}{hint}; known tasks: {', '.join(TASKS)}")
    task = TASKS[name](config)
    if config.binarize:
        task = BinarizeTask(task)
    return task if config.patch is None else PatchTask(task)
