"""Image corruptions for denoising tasks: pure functions, all randomness from a generator.

Each takes a float batch (B, C, H, W) in [0, 1] and a torch.Generator. Draws are made on the
generator's device and then moved to the batch's, so a CPU generator works with a GPU batch and
the same seed gives the same noise on any device. `parse_noise` turns a spec such as
``gaussian:0.3`` into one of them, or says in one line what is wrong with the spec.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

from aekit.errors import AekitError

Corruption = Callable[[torch.Tensor, torch.Generator], torch.Tensor]  # what parse_noise returns

NOISE_FORMS = "gaussian:STD, lesson:STD, salt-pepper:AMOUNT or mask:FRACTION (e.g. gaussian:0.3)"


def _rand(shape: tuple[int, ...], generator: torch.Generator, like: torch.Tensor) -> torch.Tensor:
    """Uniform [0, 1) draws of `shape`, made on the generator's device, then put beside `like`."""
    u = torch.rand(shape, generator=generator, device=generator.device)
    return u.to(device=like.device, dtype=like.dtype)


def _randn(shape: tuple[int, ...], generator: torch.Generator, like: torch.Tensor) -> torch.Tensor:
    """Standard normal draws of `shape`, made on the generator's device, then put beside `like`."""
    z = torch.randn(shape, generator=generator, device=generator.device)
    return z.to(device=like.device, dtype=like.dtype)


def check_batch(x: torch.Tensor) -> None:
    if x.dim() != 4:
        raise AekitError(f"tasks take image batches (B, C, H, W), got shape {tuple(x.shape)}")


def _pixel_shape(x: torch.Tensor) -> tuple[int, ...]:
    """(B, 1, H, W): one draw per pixel, shared by its channels (a dead pixel is dead in RGB)."""
    check_batch(x)
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
