"""The classical baselines an image result is printed beside, chosen by the task.

PCA at the model's code size for plain and denoising autoencoders (the best *linear* code of
that size), the best classical denoiser tuned on validation images for denoising, bicubic and
bilinear upsampling for super-resolution. `aekit eval` and `aekit report` both come here
through `IMAGES.baselines`, so their numbers are the same numbers.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from aekit.latent.pca import PCA
from aekit.modalities.base import Baseline, task_name
from aekit.training.trainer import derived_seed


def task_baselines(
    model: torch.nn.Module, dataset: Any, task: Any, seed: int = 0
) -> tuple[dict[str, Baseline], list[str]]:
    """The baselines for `task`, with notes on how they were fitted (and, last, what the code
    size means for images of this size)."""
    from aekit.inference import batches

    name = task_name(task)
    baselines: dict[str, Baseline] = {}
    notes: list[str] = []
    if name == "superres":  # an upscaler's code is a feature map, not a compression: no note
        from aekit.modalities.images.classical import upsample

        scale = task.config.scale
        for method in ("bicubic", "bilinear"):
            baselines[method] = lambda x, m=method: upsample(x, scale, m)
        return baselines, notes
    train = dataset.train.images
    patch = getattr(getattr(task, "config", None), "patch", None)
    if patch is not None:
        from aekit.modalities.images.tasks import random_crops

        # PCA must see what the model sees: patches
        generator = torch.Generator().manual_seed(derived_seed(seed, 0, 6))
        train = random_crops(next(batches(train[:10_000], 10_000)), patch, generator)
    n_pixels = int(np.prod(train.shape[1:]))
    pca = PCA(min(int(model.code_dim), n_pixels)).fit(train)
    baselines[f"PCA({pca.n_components})"] = pca.reconstruct
    notes.append(
        f"PCA({pca.n_components}) fitted on the {len(train)} training images keeps "
        f"{pca.explained_variance_ratio:.1%} of their pixel variance"
    )
    if name == "denoise":
        from aekit.modalities.images.classical import apply_choice, choose_denoisers

        source = dataset.val if len(dataset.val) else dataset.train
        clean = next(batches(source.images[:300], 300))
        generator = torch.Generator().manual_seed(derived_seed(seed, 0, 5))
        noisy, clean = task(clean, generator)
        best = choose_denoisers(noisy, clean)[0]
        label = f"{best.name}({best.param:g})"
        baselines[label] = lambda x, c=best: apply_choice(c, x)
        notes.append(
            f"{label} is the best classical denoiser, its parameter chosen on "
            f"{clean.shape[0]} validation images"
        )
    notes.append(compression_note(int(model.code_dim), int(np.prod(dataset.image_shape))))
    return baselines, notes


def compression_note(code_dim: int, n_pixels: int) -> str:
    if code_dim >= n_pixels:
        return f"the code ({code_dim}) is not smaller than the image ({n_pixels} pixels)"
    return (
        f"each image is kept as {code_dim} numbers instead of {n_pixels} pixel values "
        f"({n_pixels / code_dim:.0f}x fewer), so every reconstruction is lossy"
    )
