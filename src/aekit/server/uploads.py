"""Uploaded images: read them safely, then reconstruct, denoise or upscale them as the run's
training task allows.

Reading reuses `aekit.modalities.images.data.images`: the pixel count is checked from the
header before any pixel is decoded (413), anything Pillow cannot read is refused (415), and an
image of the wrong size or channel count is refused (422) unless the caller asks to `resize`
it, which also converts colour to gray or back. The byte limit is the app's job: it refuses a
body before it is read.

Each action returns titled images (input and output side by side, and whatever lies between,
such as the noisy copy the denoiser saw), so the page only lays them out.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from fastapi import UploadFile

from aekit.errors import AekitError
from aekit.modalities.images.classical import upsample
from aekit.modalities.images.data.images import ImageTooLarge, read_image_bytes
from aekit.server.explorer import MAX_PIXELS, Explorer, ExplorerError, action_problem

KINDS = {1: "grayscale", 3: "RGB"}


@dataclass(frozen=True)
class Titled:
    title: str
    image: np.ndarray  # (C, H, W) uint8 or float in [0, 1]


def upload_name(file: UploadFile) -> str:
    """The client's file name for messages only (never a path on this machine)."""
    name = (file.filename or "upload").replace("\\", "/").rsplit("/", 1)[-1]
    return repr(name[:80])


def read_file(file: UploadFile, max_bytes: int) -> bytes:
    data = file.file.read(max_bytes + 1)
    if len(data) > max_bytes:  # the app's BodyLimit has refused it already; this holds without
        raise ExplorerError(413, too_large(max_bytes))
    return data


def too_large(max_bytes: int) -> str:
    return f"the upload is over the limit of {max_bytes:,} bytes; send a smaller image"


def read_upload(
    data: bytes,
    name: str,
    shape: tuple[int, int, int],
    resize: bool,
    max_pixels: int = MAX_PIXELS,
) -> np.ndarray:
    """An uploaded file as uint8 (C, H, W) of exactly `shape`, or an ExplorerError."""
    channels, height, width = shape
    try:
        image = read_image_bytes(
            data,
            name=name,
            channels=channels if resize else None,
            size=(height, width) if resize else None,
            max_pixels=max_pixels,
        )
    except ImageTooLarge as exc:
        raise ExplorerError(413, str(exc)) from None
    except AekitError as exc:
        raise ExplorerError(415, f"{exc}; upload a PNG or JPEG image") from None
    if image.shape[0] != channels:
        raise ExplorerError(
            422,
            f"{name} is {KINDS.get(image.shape[0], image.shape[0])} but the model takes "
            f"{KINDS.get(channels, channels)} images; convert it, or send resize=true",
        )
    if image.shape[1:] != (height, width):
        raise ExplorerError(
            422,
            f"{name} is {image.shape[2]}x{image.shape[1]} but the model takes {width}x{height}; "
            "send resize=true to resize it",
        )
    return image


def apply(
    explorer: Explorer,
    action: str,
    data: bytes,
    name: str,
    resize: bool,
    label: int | None,
    seed: int = 0,
) -> list[Titled]:
    """Run `action` (one of explorer.actions) on an uploaded image."""
    problem = action_problem(action, explorer.actions, explorer.task.config.name)
    if problem:
        raise ExplorerError(422, problem)
    labels = explorer.check_label(label)
    if action == "add-noise-denoise":
        clean = read_upload(data, name, explorer.image_shape, resize)
        noise = task_noise(explorer.task)
        x = explorer.task.prepare(torch.from_numpy(clean[None]))
        noisy = noise(x, torch.Generator().manual_seed(seed))[0].numpy()
        noisy_u8 = np.rint(noisy.clip(0, 1) * 255).astype(np.uint8)
        out = explorer.run_model(noisy_u8[None], labels)[0]
        return [
            Titled("your image", clean),
            Titled(f"with the training noise ({noise})", noisy_u8),
            Titled("denoised", out),
        ]
    if action == "downscale-upscale":
        from aekit.modalities.images.tasks import downscale

        config = explorer.task.config
        original = read_upload(data, name, explorer.output_shape, resize)
        x = explorer.task.prepare(torch.from_numpy(original[None]))
        # A blind model was trained on many kernels; show it the one most tools shrink with.
        method = "bicubic" if config.downscale == "random" else config.downscale
        small = downscale(x, config.scale, method)
        small_u8 = np.rint(small[0].numpy() * 255).astype(np.uint8)
        out = explorer.run_model(small_u8[None], labels)[0]
        bicubic = upsample(small, config.scale)[0]  # the baseline aekit eval scores
        _, h, w = small_u8.shape
        return [
            Titled("your image", original),
            Titled(f"downscaled x{config.scale} to {w}x{h}", small_u8),
            Titled("bicubic (baseline)", bicubic.numpy()),
            Titled("upscaled by the model", out),
        ]
    image = read_upload(data, name, explorer.image_shape, resize)
    out = explorer.run_model(image[None], labels)[0]
    titles = {
        "reconstruct": ("your image", "reconstruction"),
        "denoise": ("your (noisy) image", "denoised"),
        "upscale": ("your image", f"upscaled x{explorer.task.config.scale}"),
    }[action]
    return [Titled(titles[0], image), Titled(titles[1], out)]


def task_noise(task):
    """The Noise a denoising task adds, looking through the binarize/patch wrappers."""
    while hasattr(task, "task"):
        task = task.task
    return task.noise
