"""Image corruptions for denoising tasks: pure functions, all randomness from a generator.

Each takes a float batch (B, C, H, W) in [0, 1] and a torch.Generator. Draws are made on the
generator's device and then moved to the batch's, so a CPU generator works with a GPU batch and
the same seed gives the same noise on any device. `parse_noise` turns a spec such as
``gaussian:0.3`` into one of them, or says in one line what is wrong with the spec.

Blind denoising (Zhang et al. 2017, DnCNN-B, https://arxiv.org/abs/1608.03981) trains over a
range of levels: ``gaussian:0.05-0.5`` draws each image's sigma uniformly from [0.05, 0.5] (one
draw per image, from the same generator, before the noise itself), so one model serves every
level in the range. A single value (``gaussian:0.3``) draws nothing extra: its noise is exactly
what it was before ranges existed, so old runs mean and resume what they did.

Real sensors add Poisson-Gaussian noise (Foi et al. 2008, "Practical Poissonian-Gaussian noise
modeling and fitting for single-image raw-data", https://doi.org/10.1109/TIP.2008.2001399):
``poisson-gaussian:PEAK,SIGMA`` counts photons, Poisson(PEAK * x) / PEAK, then adds read noise
N(0, SIGMA^2) and clips. PEAK is the photon count of a white pixel (lower: darker, noisier
image; at x the shot noise has std sqrt(x / PEAK)); either value may be a range
(``poisson-gaussian:10-100,0.01-0.05``): SIGMA is drawn uniformly per image, PEAK
log-uniformly, since photon counts span orders of magnitude.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Callable
from dataclasses import dataclass

import torch

from aekit.errors import AekitError

Corruption = Callable[[torch.Tensor, torch.Generator], torch.Tensor]  # what parse_noise returns

NOISE_FORMS = (
    "gaussian:STD, lesson:STD, salt-pepper:AMOUNT or mask:FRACTION, each value or range LO-HI "
    "(e.g. gaussian:0.3, gaussian:0.05-0.5), or poisson-gaussian:PEAK,SIGMA (e.g. "
    "poisson-gaussian:10-100,0.02)"
)
_NUMBER = r"\s*([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)\s*"
_RANGE = re.compile(f"^{_NUMBER}-{_NUMBER}$")  # "0.05-0.5"; a lone "-0.1" is a number


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


def add_poisson_gaussian_noise(
    x: torch.Tensor, peak: float | torch.Tensor, sigma: float | torch.Tensor,
    generator: torch.Generator,
) -> torch.Tensor:  # fmt: skip
    """Poisson(peak * x) / peak + N(0, sigma^2), clipped to [0, 1] (Foi et al. 2008).

    `peak` is the photon count of a white pixel; shot noise grows with brightness (std
    sqrt(x / peak)), read noise `sigma` does not. The Poisson draw is made on the generator's
    device in float32 (float64 rates are exact there too), then put beside `x`.
    """
    rates = (x * peak).to(device=generator.device, dtype=torch.float32).clamp_(min=0.0)
    counts = torch.poisson(rates, generator=generator).to(device=x.device, dtype=x.dtype)
    shot = counts / peak
    return (shot + sigma * _randn(tuple(x.shape), generator, x)).clamp_(0.0, 1.0)


_NOISES: dict[str, tuple[Callable[..., torch.Tensor], bool]] = {
    # kind -> (function, level is a probability in [0, 1])
    "gaussian": (add_gaussian_noise, False),
    "lesson": (add_lesson_noise, False),
    "salt-pepper": (salt_and_pepper, True),
    "mask": (random_mask, True),
}
POISSON_GAUSSIAN = "poisson-gaussian"


def _per_image(
    low: float, high: float, x: torch.Tensor, generator: torch.Generator, log: bool = False
) -> torch.Tensor:
    """One level per image, (B, 1, 1, 1), drawn uniformly (or log-uniformly) from [low, high]."""
    u = _rand((x.shape[0], 1, 1, 1), generator, x)
    if log:
        return torch.exp(math.log(low) + u * (math.log(high) - math.log(low)))
    return low + u * (high - low)


@dataclass(frozen=True)
class Noise:
    """A parsed noise spec such as ``gaussian:0.3`` or ``gaussian:0.05-0.5``, callable as
    ``noise(x, generator)``. With ``high`` set, each image's level is drawn uniformly from
    [level, high] first (one draw per image); without it nothing extra is drawn."""

    kind: str  # a key of _NOISES
    level: float  # std for gaussian/lesson, a probability for salt-pepper/mask; a range's low end
    high: float | None = None  # a range's high end; None: every image gets `level`

    def __call__(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        fn = _NOISES[self.kind][0]
        if self.high is None:
            return fn(x, self.level, generator)
        check_batch(x)
        return fn(x, _per_image(self.level, self.high, x, generator), generator)

    def at(self, level: float) -> Noise:
        """The same kind at one fixed level (what an evaluation at that level applies)."""
        return Noise(self.kind, float(level))

    @property
    def levels(self) -> tuple[float, float]:
        return (self.level, self.level if self.high is None else self.high)

    def __str__(self) -> str:
        if self.high is None:
            return f"{self.kind}:{self.level:g}"
        return f"{self.kind}:{self.level:g}-{self.high:g}"


@dataclass(frozen=True)
class PoissonGaussian:
    """``poisson-gaussian:PEAK,SIGMA``, either a value or a range; callable as ``noise(x, g)``.

    Per image, in this order: PEAK log-uniformly (if a range), SIGMA uniformly (if a range),
    then the Poisson counts and the Gaussian read noise."""

    peak: tuple[float, float]  # photons of a white pixel, (low, high); equal for one value
    sigma: tuple[float, float]  # read-noise std, (low, high)
    kind: str = POISSON_GAUSSIAN

    def __call__(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        check_batch(x)
        peak: float | torch.Tensor = self.peak[0]
        sigma: float | torch.Tensor = self.sigma[0]
        if self.peak[1] != self.peak[0]:
            peak = _per_image(*self.peak, x, generator, log=True)
        if self.sigma[1] != self.sigma[0]:
            sigma = _per_image(*self.sigma, x, generator)
        return add_poisson_gaussian_noise(x, peak, sigma, generator)

    def at(self, peak: float, sigma: float) -> PoissonGaussian:
        return PoissonGaussian((float(peak), float(peak)), (float(sigma), float(sigma)))

    def __str__(self) -> str:
        def one(pair: tuple[float, float]) -> str:
            return f"{pair[0]:g}" if pair[0] == pair[1] else f"{pair[0]:g}-{pair[1]:g}"

        return f"{self.kind}:{one(self.peak)},{one(self.sigma)}"


def parse_noise(spec: str) -> Noise | PoissonGaussian:
    """``"gaussian:0.3"``, ``"gaussian:0.05-0.5"``, ``"poisson-gaussian:10-100,0.02"`` -> a
    corruption; any malformed spec is a one-line AekitError."""

    def bad(reason: str) -> AekitError:
        return AekitError(f"bad noise spec {spec!r}: {reason}; use {NOISE_FORMS}")

    if not isinstance(spec, str):
        raise bad(f"expected a string, got {type(spec).__name__}")
    parts = spec.strip().split(":")
    kind = parts[0].strip().lower()
    kinds = [*_NOISES, POISSON_GAUSSIAN]
    if kind not in kinds:
        close = difflib.get_close_matches(kind, kinds, n=1)
        raise bad(f"unknown kind {kind!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
    if len(parts) != 2 or not parts[1].strip():
        raise bad(f"expected exactly one value after {kind!r}")
    if kind == POISSON_GAUSSIAN:
        values = parts[1].split(",")
        if len(values) != 2:
            raise bad("poisson-gaussian takes PEAK,SIGMA (two values, each a number or LO-HI)")
        peak = _value_or_range(values[0], "PEAK", bad)
        sigma = _value_or_range(values[1], "SIGMA", bad)
        if peak[0] <= 0:
            raise bad(f"PEAK is a photon count > 0, got {peak[0]:g}")
        if sigma[0] < 0:
            raise bad(f"SIGMA is a standard deviation >= 0, got {sigma[0]:g}")
        return PoissonGaussian(peak, sigma)
    low, high = _value_or_range(parts[1], kind, bad)
    if _NOISES[kind][1] and not (low >= 0.0 and high <= 1.0):
        raise bad(f"{kind} takes a fraction of pixels in [0, 1], got {_show(low, high)}")
    if low < 0:
        raise bad(f"{kind} takes a standard deviation >= 0, got {_show(low, high)}")
    return Noise(kind, low, None if high == low and _RANGE.match(parts[1]) is None else high)


def _show(low: float, high: float) -> str:
    return f"{low:g}" if low == high else f"{low:g}-{high:g}"


def _value_or_range(text: str, what: str, bad: Callable[[str], AekitError]) -> tuple[float, float]:
    """ "0.3" -> (0.3, 0.3); "0.05-0.5" -> (0.05, 0.5); finite numbers, low <= high."""
    match = _RANGE.match(text)
    try:
        pair = (float(match[1]), float(match[2])) if match else (float(text),) * 2
    except ValueError:
        raise bad(f"{text.strip()!r} is not a number or a range LO-HI") from None
    if not all(math.isfinite(v) for v in pair):
        raise bad("the value must be a finite number")
    if pair[0] > pair[1]:
        raise bad(f"the {what} range {text.strip()!r} runs from high to low; write LO-HI")
    return pair
