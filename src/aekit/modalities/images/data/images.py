"""Image files in and out, and the two per-image operations every source needs.

Everything in aekit's data layer is uint8 (C, H, W): the layout PyTorch convolutions want,
and a quarter of the memory of float32. Conversion to float happens per batch, later.

Decisions worth knowing:

- Transparent images are composited over **black** (colour x alpha). Fully transparent pixels
  then have one defined value instead of whatever colour the encoder left behind them, and
  MNIST-style data (bright strokes on a dark background) keeps its look.
- Colour -> gray uses Pillow's ITU-R 601-2 luma (L = 0.299 R + 0.587 G + 0.114 B) in both the
  file path (`read_image`) and the array path (`convert_channels`), so a folder of RGB files
  and an RGB array give identical gray images.
- Resizing is Pillow's bicubic filter, which widens its support when shrinking and so
  antialiases: plain bicubic sampling would alias fine texture into moire.
"""

from __future__ import annotations

import io
import os
import warnings
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image

from aekit.atomic import atomic_write
from aekit.errors import AekitError

IMAGE_SUFFIXES = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG"}

# Modes whose pixels are one gray value (plus maybe alpha).
_GRAY_MODES = {"1", "L", "LA", "La", "I", "I;16", "I;16B", "I;16L", "I;16N", "F"}


def _check_channels(channels: int | None) -> None:
    if channels not in (None, 1, 3):
        raise AekitError(f"channels must be 1 (gray) or 3 (RGB), got {channels!r}")


def _check_size(size: tuple[int, int] | None) -> None:
    if size is None:
        return
    ok = (
        isinstance(size, tuple | list)
        and len(size) == 2
        and all(isinstance(s, int | np.integer) and s > 0 for s in size)
    )
    if not ok:
        raise AekitError(f"size must be (height, width) with positive integers, got {size!r}")


def image_header(
    path: str | os.PathLike[str], max_pixels: int = 50_000_000
) -> tuple[int, int, int]:
    """(channels, height, width) from the file header alone, without decoding pixels.

    Used to decide a folder's channel count and to spot mixed sizes before decoding anything.
    """
    p = Path(path)
    with _open(p, max_pixels) as im:
        w, h = im.size
        try:
            return natural_channels(im), h, w
        except Exception as e:  # a corrupt palette, say
            raise AekitError(f"cannot read {p} as an image ({type(e).__name__}: {e})") from None


def natural_channels(im: Image.Image) -> int:
    """1 for gray images (including palettes whose colours are all gray), else 3."""
    if im.mode in _GRAY_MODES:
        return 1
    if im.mode in ("P", "PA"):
        palette = im.getpalette() or []
        rgb = np.asarray(palette[: len(palette) // 3 * 3]).reshape(-1, 3)
        return 1 if np.all(rgb == rgb[:, :1]) else 3
    return 3


class ImageTooLarge(AekitError):
    """An image over the pixel limit, refused from its header before any pixel is decoded (a
    server answers these with 413, other unreadable images with 415)."""


def _open(p: Path, max_pixels: int) -> Image.Image:
    """Open lazily (header only) and refuse oversized images before any decoding."""
    if not p.exists():
        raise AekitError(f"image file not found: {p}")
    if not p.is_file():
        raise AekitError(f"image path is not a regular file: {p}")
    if p.stat().st_size == 0:
        raise AekitError(f"image file is empty (0 bytes): {p}")
    return _open_checked(p, str(p), max_pixels)


def _open_checked(source: Path | BinaryIO, name: str, max_pixels: int) -> Image.Image:
    """Image.open on a path or a file object, then the pixel limit from the header alone."""
    try:
        with warnings.catch_warnings():
            # We apply our own pixel limit below; Pillow's warning would only duplicate it.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im = Image.open(source)
    except Image.DecompressionBombError as e:
        raise ImageTooLarge(f"image {name} is too large to decode safely: {e}") from None
    except Exception as e:  # Pillow raises many types for non-images: report them all the same
        # Pillow names an in-memory source by its repr (<_io.BytesIO object at 0x...>): say less.
        reason = f"{type(e).__name__}: {e}" if isinstance(source, Path) else "unknown format"
        raise AekitError(f"cannot read {name} as an image ({reason})") from None
    w, h = im.size
    if w * h > max_pixels:
        im.close()
        raise ImageTooLarge(
            f"image {name} is {w}x{h} = {w * h} pixels, over max_pixels={max_pixels}; "
            "shrink it first or raise max_pixels"
        )
    if w == 0 or h == 0:
        im.close()
        raise AekitError(f"image {name} has zero size ({w}x{h})")
    return im


def read_image(
    path: str | os.PathLike[str],
    channels: int | None = None,
    size: tuple[int, int] | None = None,
    max_pixels: int = 50_000_000,
) -> np.ndarray:
    """Read an image file as uint8 (C, H, W).

    `channels` forces 1 (gray) or 3 (RGB); None keeps the file's own (gray stays 1, anything
    coloured becomes 3). `size=(H, W)` resizes with antialiased bicubic. The pixel count is
    checked from the header before decoding, so a 100000x100000 PNG fails fast and cheaply.
    """
    _check_channels(channels)
    _check_size(size)
    p = Path(path)
    with _open(p, max_pixels) as im:
        return _pixels(im, str(p), channels, size)


def read_image_bytes(
    data: bytes,
    name: str = "upload",
    channels: int | None = None,
    size: tuple[int, int] | None = None,
    max_pixels: int = 50_000_000,
) -> np.ndarray:
    """`read_image` for an encoded image held in memory (an HTTP upload): the same decoding,
    conversions and header-first pixel limit; `name` only labels the messages."""
    _check_channels(channels)
    _check_size(size)
    if not data:
        raise AekitError(f"{name} is empty (0 bytes)")
    with _open_checked(io.BytesIO(data), name, max_pixels) as im:
        return _pixels(im, name, channels, size)


def _pixels(
    im: Image.Image, name: str, channels: int | None, size: tuple[int, int] | None
) -> np.ndarray:
    try:
        im.seek(0)  # first frame of animations
        arr = _decode(im)
    except AekitError:
        raise
    except Exception as e:
        raise AekitError(f"cannot decode image {name} ({type(e).__name__}: {e})") from None
    target = channels if channels is not None else (1 if arr.ndim == 2 else 3)
    chw = arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1)  # (H, W[, 3]) -> (C, H, W)
    chw = convert_channels(chw[None], target)[0]
    if size is not None and tuple(size) != chw.shape[1:]:
        chw = resize_images(chw[None], (int(size[0]), int(size[1])))[0]
    return np.ascontiguousarray(chw)


def _premultiply(arr: np.ndarray) -> np.ndarray:
    """(H, W, K+1) uint8 with alpha last -> (H, W, K) composited over black."""
    colour = arr[..., :-1].astype(np.uint32)
    alpha = arr[..., -1:].astype(np.uint32)
    return ((colour * alpha + 127) // 255).astype(np.uint8)


def _decode(im: Image.Image) -> np.ndarray:
    """Decode to uint8 (H, W) for gray or (H, W, 3) for colour."""
    mode = im.mode
    if mode == "1":
        return np.asarray(im.convert("L"))
    if mode.startswith("I"):  # 16-bit PNG/TIFF gray: map 0..65535 onto 0..255
        a = np.asarray(im).astype(np.int64)
        return ((np.clip(a, 0, 65535) * 255 + 32767) // 65535).astype(np.uint8)
    if mode == "F":  # float pixels (a TIFF, whatever the file is called): NaN must not pass
        a = np.asarray(im)
        if not np.isfinite(a).all():
            raise ValueError("its float pixels hold NaN or infinity; clean the image first")
        return np.clip(np.rint(a), 0, 255).astype(np.uint8)
    if mode == "L":
        return np.asarray(im)
    if mode in ("LA", "La"):
        return _premultiply(np.asarray(im.convert("LA")))[..., 0]
    if mode in ("P", "PA"):
        gray = natural_channels(im) == 1
        if "transparency" in im.info or mode == "PA":
            rgb = _premultiply(np.asarray(im.convert("RGBA")))
        else:
            rgb = np.asarray(im.convert("RGB"))
        return rgb[..., 0].copy() if gray else rgb
    if mode in ("RGBA", "RGBa") or "transparency" in im.info:
        return _premultiply(np.asarray(im.convert("RGBA")))
    return np.asarray(im.convert("RGB"))


def convert_channels(images: np.ndarray, channels: int | None) -> np.ndarray:
    """(N, C, H, W) uint8 with C in {1, 3} -> (N, channels, H, W); None leaves it as is."""
    _check_channels(channels)
    c = images.shape[1]
    if channels is None or channels == c:
        return images
    if channels == 3:  # gray -> RGB: repeat the one plane
        return np.ascontiguousarray(np.repeat(images, 3, axis=1))
    # RGB -> gray with Pillow's fixed-point ITU-R 601-2 luma, so results match Image.convert("L").
    rgb = images.astype(np.uint32)
    luma = (rgb[:, 0] * 19595 + rgb[:, 1] * 38470 + rgb[:, 2] * 7471 + 0x8000) >> 16
    return np.ascontiguousarray(luma[:, None].astype(np.uint8))


def resize_images(images: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(N, C, H, W) uint8 -> (N, C, size[0], size[1]) uint8, antialiased bicubic."""
    _check_size(size)
    n, c, h, w = images.shape
    out_h, out_w = int(size[0]), int(size[1])
    if (h, w) == (out_h, out_w):
        return images
    out = np.empty((n, c, out_h, out_w), dtype=np.uint8)
    bicubic = Image.Resampling.BICUBIC
    for i in range(n):
        if c == 3:  # one RGB image: same result as three planes, a third of the calls
            rgb = Image.fromarray(np.ascontiguousarray(images[i].transpose(1, 2, 0)))
            out[i] = np.asarray(rgb.resize((out_w, out_h), bicubic)).transpose(2, 0, 1)
        else:
            for k in range(c):
                plane = Image.fromarray(np.ascontiguousarray(images[i, k]))
                out[i, k] = np.asarray(plane.resize((out_w, out_h), bicubic))
    return out


def unit_float_to_uint8(arr: np.ndarray, what: str) -> np.ndarray:
    """Float pixels in [0, 1] -> uint8 0..255, refusing NaN, infinity and values out of range."""
    if not np.all(np.isfinite(arr)):
        raise AekitError(f"{what} contains NaN or infinity; clean the data first")
    lo, hi = float(arr.min()), float(arr.max())
    if lo < 0.0 or hi > 1.0:
        raise AekitError(
            f"{what} is float with values in [{lo:.4g}, {hi:.4g}]; float images must lie in "
            "[0, 1] (undo the normalisation, np.clip(x, 0, 1), or use uint8 0..255)"
        )
    return np.rint(arr * 255.0).astype(np.uint8)


def write_image(path: str | os.PathLike[str], array: np.ndarray) -> None:
    """Write (C, H, W) or (H, W) pixels as PNG or JPEG (chosen by extension), atomically.

    uint8 is written as is; float must lie in [0, 1] and is scaled by 255 and rounded. Values
    outside [0, 1] are refused rather than silently clipped, because they usually mean the
    caller forgot to undo a normalisation.
    """
    p = Path(path)
    fmt = IMAGE_SUFFIXES.get(p.suffix.lower())
    if fmt is None:
        raise AekitError(f"cannot write image {p}: use a .png, .jpg or .jpeg file name")
    arr = np.asarray(array)
    if arr.ndim == 3:
        if arr.shape[0] not in (1, 3):
            raise AekitError(
                f"write_image wants (C, H, W) with C = 1 or 3, got shape {arr.shape} for {p}"
            )
        arr = arr[0] if arr.shape[0] == 1 else arr.transpose(1, 2, 0)
    elif arr.ndim != 2:
        raise AekitError(f"write_image wants (C, H, W) or (H, W), got shape {arr.shape} for {p}")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise AekitError(f"cannot write an empty image of shape {arr.shape} to {p}")
    if arr.dtype.kind == "f":
        arr = unit_float_to_uint8(arr, f"image for {p}")
    elif arr.dtype != np.uint8:
        raise AekitError(f"image for {p} has dtype {arr.dtype}; use uint8 or float in [0, 1]")
    im = Image.fromarray(np.ascontiguousarray(arr))
    options = {"quality": 95} if fmt == "JPEG" else {}
    with atomic_write(p) as f:
        im.save(f, format=fmt, **options)
