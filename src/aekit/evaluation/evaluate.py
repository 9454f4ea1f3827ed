"""Evaluate a model on an image split, beside PCA at the same code dimension.

Both see the same task input (for plain autoencoding, the image itself) and are scored against
the same target with the same per-image metrics; PCA is fitted on the training split only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch

from aekit.inference import batches, check_fits_shape, labelled_batches
from aekit.latent.pca import PCA
from aekit.modalities.images.metrics import METRICS, MetricMeans, image_metrics
from aekit.modalities.images.tasks import Task, identity
from aekit.runtime.precision import autocast
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
    task: str = "identity"
    # When evaluated on data other than its own: the model's metrics on its own test split, so
    # the drop (autoencoders are data specific) is printed beside the new numbers.
    own_dataset: str | None = None
    own_metrics: dict[str, float] | None = None
    likelihood: dict[str, float] | None = None  # variational models: nll, neg_elbo, k (nats)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def table(self) -> str:
        """A plain-text table: one row per metric, the model then each baseline."""
        columns = [self.model, *self.baselines]
        values = [self.metrics, *self.baselines.values()]
        width = max(12, *(len(c) + 2 for c in columns))
        task = "" if self.task == "identity" else f", task {self.task}"
        lines = [
            f"{self.model} on {self.dataset} ({self.split} split, {self.n_images} images{task}), "
            f"code dimension {self.code_dim}",
            "metric".ljust(10) + "".join(c.rjust(width) for c in columns),
        ]
        for metric in METRICS:
            better = "higher" if metric in ("psnr", "ssim") else "lower"
            cells = "".join(format_metric(metric, v.get(metric)).rjust(width) for v in values)
            lines.append(metric.ljust(10) + cells + f"   ({better} is better)")
        lines += [f"note: {n}" for n in self.notes]
        if self.likelihood is not None:
            lk = self.likelihood
            lines.append(
                f"log-likelihood on dynamically binarized images, {lk['k']} importance samples: "
                f"NLL {lk['nll']:.2f} nats, -ELBO {lk['neg_elbo']:.2f} nats per image"
            )
        if self.own_metrics is not None:
            own, here = self.own_metrics["psnr"], self.metrics["psnr"]
            lines.append(
                f"data specificity: PSNR {own:.2f} dB on its own data ({self.own_dataset}), "
                f"{here:.2f} dB on {self.dataset}: {own - here:+.2f} dB drop"
            )
        return "\n".join(lines)


def format_metric(name: str, value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.2f} dB" if name == "psnr" else f"{value:.4f}"


Baseline = Callable[[torch.Tensor], torch.Tensor]  # task input batch -> output batch


def task_name(task: Task) -> str:
    config = getattr(task, "config", None)
    return config.name if config is not None else getattr(task, "__name__", "custom")


def task_input_shape(task: Task, image_shape: tuple[int, ...]) -> tuple[int, ...]:
    """The shape a model sees when `task` makes its inputs from images of `image_shape`."""
    input_shape = getattr(task, "input_shape", None)
    return tuple(input_shape(tuple(image_shape))) if input_shape else tuple(image_shape)


@torch.no_grad()
def evaluate_model(
    model: torch.nn.Module,
    images_u8: np.ndarray,
    task: Task = identity,
    *,
    baselines: dict[str, Baseline] | None = None,
    batch_size: int = 512,
    precision: str = "fp32",
    seed: int = 0,
    labels: np.ndarray | None = None,
) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    """Per-image metric means of the model, and of each baseline, on the same task pairs.

    The task's randomness (noise) comes from a generator seeded by `seed`, so every call, and
    every baseline within a call, scores the very same noisy inputs.
    """
    check_fits_shape(model, task_input_shape(task, images_u8.shape[1:]))
    model.eval()
    generator = torch.Generator().manual_seed(derived_seed(seed, 0, 4))
    ours = MetricMeans()
    theirs = {name: MetricMeans() for name in baselines or {}}
    for x, y in labelled_batches(images_u8, labels, batch_size):
        inputs, target = task(x, generator)
        with autocast(precision):
            recon = model(inputs, y).recon.float()
        ours.add(image_metrics(recon, target))
        for name, baseline in (baselines or {}).items():
            theirs[name].add(image_metrics(baseline(inputs), target))
    return ours.means(), {name: m.means() for name, m in theirs.items()}


def task_baselines(
    model: torch.nn.Module, dataset: Any, task: Task, seed: int = 0
) -> tuple[dict[str, Baseline], list[str]]:
    """The classical baselines a result is printed beside, by task, with notes on how they were
    fitted: PCA at the model's code size (plain and denoising autoencoders), the best classical
    denoiser chosen on validation images (denoising), bicubic and bilinear (super-resolution)."""
    name = task_name(task)
    baselines: dict[str, Baseline] = {}
    notes: list[str] = []
    if name == "superres":
        from aekit.modalities.images.classical import upsample

        scale = task.config.scale
        for method in ("bicubic", "bilinear"):
            baselines[method] = lambda x, m=method: upsample(x, scale, m)
        return baselines, notes
    train = dataset.train.images
    patch = getattr(getattr(task, "config", None), "patch", None)
    if patch is not None:
        from aekit.modalities.images.tasks import (
            random_crops,  # PCA must see what the model sees: patches
        )

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
    return baselines, notes


def compression_note(code_dim: int, n_pixels: int) -> str:
    if code_dim >= n_pixels:
        return f"the code ({code_dim}) is not smaller than the image ({n_pixels} pixels)"
    return (
        f"each image is kept as {code_dim} numbers instead of {n_pixels} pixel values "
        f"({n_pixels / code_dim:.0f}x fewer), so every reconstruction is lossy"
    )


def evaluate_on(
    model: torch.nn.Module,
    model_name: str,
    dataset: Any,
    split: str = "test",
    task: Task = identity,
    *,
    batch_size: int = 512,
    limit: int | None = None,
    fitted: tuple[dict[str, Baseline], list[str]] | None = None,
) -> EvalReport:
    """The full report: the model on `dataset.<split>` beside the task's classical baselines.

    `fitted` is what `task_baselines` returned, for a caller that also shows the baselines'
    outputs (aekit report) and should not fit PCA and tune the denoisers twice.
    """
    subset = getattr(dataset, split)
    images, labels = subset.images[:limit], subset.labels
    labels = None if labels is None else labels[:limit]
    baselines, notes = fitted if fitted is not None else task_baselines(model, dataset, task)
    notes = list(notes)  # the caller's list stays as it was
    ours, theirs = evaluate_model(
        model, images, task, baselines=baselines, batch_size=batch_size, labels=labels
    )
    code_dim = int(model.code_dim)
    n_pixels = int(np.prod(images.shape[1:]))
    if task_name(task) != "superres":  # an upscaler's code is a feature map, not a compression
        notes.append(compression_note(code_dim, n_pixels))
    return EvalReport(
        model=model_name, dataset=dataset.name, split=split, n_images=int(images.shape[0]),
        code_dim=code_dim, metrics=ours, baselines=theirs, notes=notes, task=task_name(task),
    )  # fmt: skip
