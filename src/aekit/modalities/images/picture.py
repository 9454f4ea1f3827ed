"""The image picture `--log` trackers show after each epoch: a few rows through the run's task
and model, one column per row: the input when it is not the target (noisy, low-resolution),
the model's output, and the target. Low-resolution inputs are enlarged without smoothing, so
every image in a column has the target's size.
"""

from __future__ import annotations

import numpy as np
import torch

from aekit.core.random import module_device
from aekit.modalities.base import prepared_task

PAD = 2  # white pixels between images
SEED = 0  # the task's draws (noise, crops): the same every epoch, so pictures compare


@torch.no_grad()
def task_picture(
    model: torch.nn.Module, task, rows: np.ndarray, labels: np.ndarray | None = None
) -> np.ndarray:
    """uint8 (N, C, H, W) rows -> one (H', W', 3) uint8 image, white between images."""
    device = module_device(model)
    raw = torch.from_numpy(np.ascontiguousarray(rows))
    inputs, target = prepared_task(task)(raw, torch.Generator().manual_seed(SEED))
    y = None if labels is None else torch.from_numpy(np.asarray(labels, np.int64)).to(device)
    was_training = model.training
    model.eval()
    try:
        output = model(inputs.to(device), y).recon.float().cpu()
    finally:
        model.train(was_training)
    same = inputs.shape == target.shape and torch.equal(inputs, target)
    shown = [target, output] if same else [inputs, output, target]
    return mosaic([sized(x.float(), target.shape[-2:]) for x in shown])


def sized(images: torch.Tensor, size) -> torch.Tensor:
    """(N, C, h, w) in [0, 1] -> (N, 3, H, W): nearest-neighbour enlarged, gray as RGB."""
    images = images.clamp(0, 1)
    if tuple(images.shape[-2:]) != tuple(size):
        images = torch.nn.functional.interpolate(images, size=tuple(size), mode="nearest")
    return images.expand(-1, 3, -1, -1) if images.shape[1] == 1 else images[:, :3]


def mosaic(rows: list[torch.Tensor]) -> np.ndarray:
    """Rows of (N, 3, H, W) images -> (H', W', 3) uint8, rows top to bottom."""
    n, _, h, w = rows[0].shape
    canvas = torch.ones(3, len(rows) * (h + PAD) + PAD, n * (w + PAD) + PAD)
    for r, images in enumerate(rows):
        for c, image in enumerate(images):
            top, left = PAD + r * (h + PAD), PAD + c * (w + PAD)
            canvas[:, top : top + h, left : left + w] = image
    return (canvas.permute(1, 2, 0) * 255).round().to(torch.uint8).numpy()
