"""Using a trained image model on arrays: reconstruct, embed. Batched, no gradients, fp32 by
default. Rows are uint8 images, scaled as the image modality's tasks scale them (`to_unit`).

They run where the model is (a model from `load_run` is on the CPU unless it was given a
device), or on `device` when one is given, which moves the model there as `Module.to` does;
arrays go in and come back on the host.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch

from aekit.core.posterior import DiagonalGaussian
from aekit.core.random import module_device
from aekit.errors import AekitError
from aekit.modalities.images.tasks import to_unit
from aekit.runtime.device import resolve_device
from aekit.runtime.precision import autocast


def check_fits(model: torch.nn.Module, images_u8: np.ndarray, what: str = "images") -> None:
    """Refuse images whose (C, H, W) differ from the model's, naming both shapes."""
    check_fits_shape(model, tuple(images_u8.shape[1:]), what)


def check_fits_shape(model: torch.nn.Module, got: tuple[int, ...], what: str = "images") -> None:
    expected = tuple(model.config.image_shape)
    got = tuple(got)
    if got != expected:
        raise AekitError(
            f"{what} have shape (C, H, W) = {got} but the model was trained on {expected}; "
            "use data of that size and channel count (or --resize for image files)"
        )


def batches(images_u8: np.ndarray, batch_size: int) -> Iterator[torch.Tensor]:
    """Float batches in [0, 1], (B, C, H, W), gathered from a uint8 array without copying it."""
    tensor = torch.from_numpy(np.require(images_u8, requirements=["C", "W"]))  # read-only: copy
    for start in range(0, tensor.shape[0], batch_size):
        yield to_unit(tensor[start : start + batch_size])


def placed(model: torch.nn.Module, device: str | torch.device | None) -> torch.device:
    """The device inference runs on: `device` (the model moved there), else the model's."""
    if device is None:
        return module_device(model)
    target = resolve_device(device)
    model.to(target)
    return target


def labelled_batches(
    images_u8: np.ndarray, labels: np.ndarray | None, batch_size: int
) -> Iterator[tuple[torch.Tensor, torch.Tensor | None]]:
    """(x, y) batches: `batches` with the matching labels, or y = None when there are none
    (conditional models need labels; the others ignore y)."""
    ys = None if labels is None else torch.from_numpy(np.asarray(labels, dtype=np.int64))
    for i, x in enumerate(batches(images_u8, batch_size)):
        yield x, None if ys is None else ys[i * batch_size : (i + 1) * batch_size]


@torch.no_grad()
def reconstruct(
    model: torch.nn.Module,
    images_u8: np.ndarray,
    batch_size: int = 512,
    precision: str = "fp32",
    labels: np.ndarray | None = None,
    device: str | torch.device | None = None,
) -> np.ndarray:
    """Reconstructions (N, C, H, W) float32 in [0, 1] of uint8 images (N, C, H, W)."""
    check_fits(model, images_u8)
    target = placed(model, device)
    model.eval()
    outputs = []
    for x, y in labelled_batches(images_u8, labels, batch_size):
        x, y = x.to(target), None if y is None else y.to(target)
        with autocast(precision, target.type):
            outputs.append(model(x, y).recon.float().cpu())
    return torch.cat(outputs).numpy()


@torch.no_grad()
def embed(
    model: torch.nn.Module,
    images_u8: np.ndarray,
    batch_size: int = 512,
    sample: bool = False,
    generator: torch.Generator | None = None,
    labels: np.ndarray | None = None,
    device: str | torch.device | None = None,
) -> np.ndarray:
    """Codes (N, *code_shape) float32. Variational models give the posterior mean unless
    `sample` is set (then one reparameterised draw per image, drawn on the generator's
    device, so a seed gives the same codes wherever the model runs)."""
    check_fits(model, images_u8)
    target = placed(model, device)
    model.eval()
    codes = []
    for x, y in labelled_batches(images_u8, labels, batch_size):
        z = model.encode(x.to(target), None if y is None else y.to(target))
        if isinstance(z, DiagonalGaussian):
            z = z.sample(generator) if sample else z.mode()
        codes.append(z.float().cpu())
    return torch.cat(codes).numpy()
