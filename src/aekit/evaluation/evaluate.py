"""Evaluate a model on an image split, beside PCA at the same code dimension.

Both see the same task input (for plain autoencoding, the image itself) and are scored against
the same target with the same per-image metrics; PCA is fitted on the training split only.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch

from aekit.data.pairs import Task, identity
from aekit.evaluation.baselines import PCA
from aekit.evaluation.metrics import METRICS, MetricMeans, image_metrics
from aekit.inference import batches, check_fits
from aekit.training.precision import autocast
from aekit.training.trainer import derived_seed


@dataclass
class EvalReport:
    model: str
    dataset: str
    split: str
    n_images: int
    code_dim: int
    metrics: dict[str, float]  # the model's per-image means
    baselines: dict[str, dict[str, float]] = field(default_factory=dict)  # name -> metrics
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def table(self) -> str:
        """A plain-text table: one row per metric, the model then each baseline."""
        columns = [self.model, *self.baselines]
        values = [self.metrics, *self.baselines.values()]
        width = max(12, *(len(c) + 2 for c in columns))
        lines = [
            f"{self.model} on {self.dataset} ({self.split} split, {self.n_images} images), "
            f"code dimension {self.code_dim}",
            "metric".ljust(10) + "".join(c.rjust(width) for c in columns),
        ]
        for metric in METRICS:
            better = "higher" if metric in ("psnr", "ssim") else "lower"
            cells = "".join(format_metric(metric, v.get(metric)).rjust(width) for v in values)
            lines.append(metric.ljust(10) + cells + f"   ({better} is better)")
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines)


def format_metric(name: str, value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.2f} dB" if name == "psnr" else f"{value:.4f}"


@torch.no_grad()
def evaluate_model(
    model: torch.nn.Module,
    images_u8: np.ndarray,
    task: Task = identity,
    *,
    pca: PCA | None = None,
    batch_size: int = 512,
    precision: str = "fp32",
    seed: int = 0,
) -> tuple[dict[str, float], dict[str, float] | None]:
    """Per-image metric means of the model (and of `pca`, if given) on uint8 images."""
    check_fits(model, images_u8)
    model.eval()
    generator = torch.Generator().manual_seed(derived_seed(seed, 0, 4))
    ours, theirs = MetricMeans(), MetricMeans()
    for x in batches(images_u8, batch_size):
        inputs, target = task(x, generator)
        with autocast(precision):
            recon = model(inputs).recon.float()
        ours.add(image_metrics(recon, target))
        if pca is not None:
            theirs.add(image_metrics(pca.reconstruct(inputs), target))
    return ours.means(), (theirs.means() if pca is not None else None)


def evaluate_on(
    model: torch.nn.Module,
    model_name: str,
    dataset: Any,
    split: str = "test",
    task: Task = identity,
    *,
    batch_size: int = 512,
    limit: int | None = None,
) -> EvalReport:
    """The full report: the model on `dataset.<split>` beside PCA fitted on `dataset.train`."""
    images = getattr(dataset, split).images
    if limit is not None:
        images = images[:limit]
    code_dim = int(model.code_dim)
    n_pixels = int(np.prod(images.shape[1:]))
    pca = PCA(min(code_dim, n_pixels)).fit(dataset.train.images)
    ours, baseline = evaluate_model(model, images, task, pca=pca, batch_size=batch_size)
    notes = [
        f"PCA({pca.n_components}) fitted on the {len(dataset.train)} training images keeps "
        f"{pca.explained_variance_ratio:.1%} of their pixel variance"
    ]
    if code_dim >= n_pixels:
        notes.append(f"the code ({code_dim}) is not smaller than the image ({n_pixels} pixels)")
    else:
        notes.append(
            f"each image is kept as {code_dim} numbers instead of {n_pixels} pixel values "
            f"({n_pixels / code_dim:.0f}x fewer), so both reconstructions are lossy"
        )
    return EvalReport(
        model=model_name, dataset=dataset.name, split=split, n_images=int(images.shape[0]),
        code_dim=code_dim, metrics=ours, baselines={f"PCA({pca.n_components})": baseline},
        notes=notes,
    )  # fmt: skip
