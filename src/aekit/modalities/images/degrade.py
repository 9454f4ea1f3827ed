"""Blind super-resolution inputs: a random degradation per image, every draw from a generator.

A user's low-res image was shrunk by whatever their tool uses (box averaging, bilinear, bicubic,
a camera's blur and sampling), maybe with sensor noise and JPEG on top. A model trained on one
kernel learns that kernel's fingerprint and loses about half its gain on another (issue 14:
+5.5 dB over bicubic on the kernel it was trained on, +2.5 dB on 2x2 averaging). Training on a
random degradation per image is the classical fix, in the order the degradation model
y = JPEG((x * k) downscaled + n) gives (Zhang et al. 2021, BSRGAN,
https://arxiv.org/abs/2103.14006; Wang et al. 2021, Real-ESRGAN, https://arxiv.org/abs/2107.10833):

* **kernel**, one per image from ``kernels``: ``area`` (box average), ``bilinear`` and
  ``bicubic`` (antialiased, as image libraries shrink), ``blur`` (a Gaussian of random sigma,
  then the box average: optics before a sensor's pixels);
* **noise** (optional): Gaussian of a random std per image, at the low resolution;
* **jpeg** (optional): a JPEG round trip at a random quality per image (Pillow, 8-bit).

The spec is a string, ``task.degradations``, e.g.
``kernels=area,bilinear,bicubic,blur;blur=0.2-0.6;noise=0-0.02;jpeg=75-95``; a value is one
number or a range LO-HI drawn uniformly per image. `parse_degradations` says in one line what is
wrong with a bad one.

Every draw comes from the generator the caller passes, made on its device, in a fixed order and
number per batch (kernel index, blur sigma, noise std and noise, JPEG quality, each for every
image whether used or not), so the same generator state gives bitwise the same inputs, and a
resumed run draws what the straight one did.
"""

from __future__ import annotations

import difflib
import io
import math
import re
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from aekit.errors import AekitError

KERNELS = ("area", "bilinear", "bicubic", "blur")
# Gaussian sigma in low-res pixels (so x4 blurs twice as many high-res pixels as x2): 0.2-0.6
# is mild, from a little softer than the box average to about what antialiased bicubic does.
BLUR_SIGMA = (0.2, 0.6)
DEFAULT_DEGRADATIONS = "kernels=area,bilinear,bicubic,blur"
DEGRADATION_FORMS = (
    "key=value pairs separated by ';': kernels=NAME,NAME,... (area, bilinear, bicubic, blur), "
    "blur=SIGMA or LO-HI (low-res pixels), noise=STD or LO-HI, jpeg=QUALITY or LO-HI (1-100), "
    f"e.g. '{DEFAULT_DEGRADATIONS};noise=0-0.02;jpeg=75-95'"
)
_NUMBER = r"(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?"
_RANGE = re.compile(rf"^\s*({_NUMBER})\s*(?:-\s*({_NUMBER})\s*)?$")


@dataclass(frozen=True)
class Degradations:
    """A parsed ``task.degradations`` spec."""

    kernels: tuple[str, ...] = ("area", "bilinear", "bicubic", "blur")
    blur: tuple[float, float] = BLUR_SIGMA  # sigma in low-res pixels, uniform per image
    noise: tuple[float, float] | None = None  # Gaussian std, uniform per image
    jpeg: tuple[int, int] | None = None  # quality, uniform integer per image

    def __str__(self) -> str:
        def span(r: tuple[float, float]) -> str:
            return f"{r[0]:g}" if r[0] == r[1] else f"{r[0]:g}-{r[1]:g}"

        parts = [f"kernels={','.join(self.kernels)}"]
        if "blur" in self.kernels:
            parts.append(f"blur={span(self.blur)}")
        if self.noise is not None:
            parts.append(f"noise={span(self.noise)}")
        if self.jpeg is not None:
            parts.append(f"jpeg={span(self.jpeg)}")
        return ";".join(parts)


def parse_degradations(spec: str, where: str = "task.degradations") -> Degradations:
    """``"kernels=area,bicubic;noise=0-0.02"`` -> Degradations; a bad spec is one AekitError
    line naming `where`, the part that is wrong and the forms allowed."""

    def bad(reason: str) -> AekitError:
        return AekitError(f"bad {where} {spec!r}: {reason}; use {DEGRADATION_FORMS}")

    if not isinstance(spec, str):
        raise bad(f"expected a string, got {type(spec).__name__}")
    values: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in spec.split(";"))):
        key, eq, value = (s.strip() for s in part.partition("="))
        key = key.lower()
        if key not in ("kernels", "blur", "noise", "jpeg"):
            close = difflib.get_close_matches(key, ("kernels", "blur", "noise", "jpeg"), n=1)
            raise bad(f"unknown key {key!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
        if not eq or not value:
            raise bad(f"{key!r} needs a value, as {key}=...")
        if key in values:
            raise bad(f"{key!r} is given twice")
        values[key] = value

    def span(key: str, low: float, high: float) -> tuple[float, float]:
        match = _RANGE.match(values[key])
        if match is None:
            raise bad(f"{key}={values[key]!r} is not a number or a range LO-HI")
        a = float(match.group(1))
        b = float(match.group(2)) if match.group(2) is not None else a
        if not (math.isfinite(a) and math.isfinite(b)) or a > b:
            raise bad(f"{key}={values[key]!r} must be a range LO-HI with LO <= HI")
        if a < low or b > high:
            raise bad(f"{key} must lie in [{low:g}, {high:g}], got {values[key]!r}")
        return a, b

    kernels = Degradations.kernels
    if "kernels" in values:
        names = [k.strip().lower() for k in values["kernels"].split(",")]
        for name in names:
            if name not in KERNELS:
                close = difflib.get_close_matches(name, KERNELS, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise bad(f"unknown kernel {name!r}{hint}")
        if len(set(names)) != len(names):
            raise bad("a kernel is named twice")
        kernels = tuple(names)
    blur = span("blur", 0.01, 4.0) if "blur" in values else BLUR_SIGMA
    if "blur" in values and "blur" not in kernels:
        raise bad("blur= is set but 'blur' is not one of the kernels")
    noise = span("noise", 0.0, 1.0) if "noise" in values else None
    jpeg = None
    if "jpeg" in values:
        q = span("jpeg", 1, 100)
        if q[0] != int(q[0]) or q[1] != int(q[1]):
            raise bad(f"jpeg qualities are whole numbers, got {values['jpeg']!r}")
        jpeg = (int(q[0]), int(q[1]))
    return Degradations(kernels=kernels, blur=blur, noise=noise, jpeg=jpeg)


# --- the degradations themselves -------------------------------------------------------------


def gaussian_blur(x: torch.Tensor, sigmas: torch.Tensor) -> torch.Tensor:
    """Each image of (B, C, H, W) blurred by its own Gaussian (`sigmas`: (B,), in pixels),
    separably, edges reflected. One grouped convolution per direction for the whole batch."""
    b, c, h, w = x.shape
    radius = max(1, math.ceil(3.0 * float(sigmas.max())))
    radius = min(radius, h - 1, w - 1)  # reflection needs a pad smaller than the image
    if radius < 1:
        return x
    offsets = torch.arange(-radius, radius + 1, device=x.device, dtype=x.dtype)
    s = sigmas.to(device=x.device, dtype=x.dtype)[:, None]
    g = torch.exp(-0.5 * (offsets[None, :] / s) ** 2)
    g = (g / g.sum(dim=1, keepdim=True)).repeat_interleave(c, dim=0)  # (B*C, K)
    flat = x.reshape(1, b * c, h, w)
    flat = F.pad(flat, (radius, radius, radius, radius), mode="reflect")
    flat = F.conv2d(flat, g[:, None, None, :], groups=b * c)
    flat = F.conv2d(flat, g[:, None, :, None], groups=b * c)
    return flat.reshape(b, c, h, w)


def shrink(
    x: torch.Tensor, scale: int, kernel: str, sigma: torch.Tensor | None = None
) -> torch.Tensor:
    """(B, C, H, W) -> (B, C, H/scale, W/scale) by one kernel of KERNELS (blur: `sigma` per
    image, in low-res pixels)."""
    from aekit.modalities.images.tasks import downscale

    if kernel == "blur":
        if sigma is None:
            raise AekitError("the blur kernel needs a sigma per image")
        return F.avg_pool2d(gaussian_blur(x, sigma * scale), scale).clamp_(0.0, 1.0)
    return downscale(x, scale, kernel)


def jpeg_round_trip(x: torch.Tensor, qualities: list[int]) -> torch.Tensor:
    """Each image of (B, C, H, W) in [0, 1] saved as an 8-bit JPEG at its quality and read back
    (Pillow; grayscale for one channel, RGB for three)."""
    from PIL import Image

    b, c = x.shape[:2]
    if c not in (1, 3):
        raise AekitError(f"JPEG degradation takes grayscale or RGB images, got {c} channels")
    pixels = (x.detach().to("cpu", torch.float32) * 255.0).round_().clamp_(0, 255)
    pixels = pixels.to(torch.uint8).numpy()
    out = np.empty_like(pixels)
    for i in range(b):
        image = pixels[i, 0] if c == 1 else pixels[i].transpose(1, 2, 0)
        buffer = io.BytesIO()
        Image.fromarray(image).save(buffer, format="JPEG", quality=int(qualities[i]))
        buffer.seek(0)
        back = np.asarray(Image.open(buffer).convert("L" if c == 1 else "RGB"))
        out[i] = back[None] if c == 1 else back.transpose(2, 0, 1)
    return torch.from_numpy(out).to(device=x.device, dtype=x.dtype).div_(255.0)


def _uniform(span: tuple[float, float], n: int, generator: torch.Generator) -> torch.Tensor:
    u = torch.rand((n,), generator=generator, device=generator.device, dtype=torch.float64)
    return (span[0] + (span[1] - span[0]) * u).cpu()


def degrade(
    x: torch.Tensor,
    scale: int,
    spec: Degradations,
    generator: torch.Generator,
    kernel: str | None = None,
) -> torch.Tensor:
    """Low-res inputs for the clean batch `x`: one kernel per image drawn from ``spec.kernels``
    (or `kernel` for every image: the fixed-kernel mode), then the spec's noise and JPEG."""
    b = x.shape[0]
    if kernel is None:
        index = torch.randint(
            0, len(spec.kernels), (b,), generator=generator, device=generator.device
        )
        index = index.cpu()
        kernels = spec.kernels
    else:
        index, kernels = torch.zeros(b, dtype=torch.long), (kernel,)
    sigma = _uniform(spec.blur, b, generator) if "blur" in kernels else None
    c, h, w = x.shape[1:]
    small = torch.empty((b, c, h // scale, w // scale), dtype=x.dtype, device=x.device)
    for k, name in enumerate(kernels):
        rows = (index == k).nonzero().flatten()
        if rows.numel() == 0:
            continue
        picked = rows.to(x.device)
        s = None if sigma is None else sigma[rows]
        small[picked] = shrink(x[picked], scale, name, s)
    if spec.noise is not None:
        std = _uniform(spec.noise, b, generator).to(device=x.device, dtype=x.dtype)
        z = torch.randn(tuple(small.shape), generator=generator, device=generator.device)
        small = (small + std[:, None, None, None] * z.to(device=x.device, dtype=x.dtype)).clamp_(
            0, 1
        )
    if spec.jpeg is not None:
        low, high = spec.jpeg
        q = torch.randint(low, high + 1, (b,), generator=generator, device=generator.device)
        small = jpeg_round_trip(small, q.tolist())
    return small
