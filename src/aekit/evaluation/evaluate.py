"""Evaluate a model on a dataset split, beside the classical baselines of its task.

The model and every baseline see the same task input (for plain autoencoding, the row itself)
and are scored against the same target with the same per-row metrics. What the metrics and the
baselines are is the modality's business (images: MSE, BCE, PSNR, SSIM; PCA fitted on the
training split, tuned filters, bicubic); this module only drives them, for any modality.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch

from aekit.modalities import (
    DEFAULT_MODALITY,
    Baseline,
    Modality,
    Task,
    get_modality,
    identity,
    prepared_task,
    task_name,
)
from aekit.modalities.base import MetricMeans
from aekit.runtime.precision import autocast
from aekit.training.trainer import derived_seed

__all__ = ["Baseline", "EvalReport", "evaluate_model", "evaluate_on", "task_name"]


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
    modality: str = DEFAULT_MODALITY  # whose metrics these are (aekit.modalities)
    noun: str = "images"  # what the rows are called: the split's noun (melody: "windows")
    # What the modality measures beyond per-row means (Modality.evaluate_more): its JSON form,
    # and its table, printed after the metrics.
    more: dict[str, Any] | None = None
    more_table: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out.pop("more_table")
        return out

    def table(self) -> str:
        """A plain-text table: one row per metric, the model then each baseline."""
        metrics = get_modality(self.modality).metrics
        columns = [self.model, *self.baselines]
        values = [self.metrics, *self.baselines.values()]
        width = max(12, *(len(c) + 2 for c in columns))
        first = max(10, *(len(m) + 2 for m in metrics.names))
        task = "" if self.task == "identity" else f", task {self.task}"
        lines = [
            f"{self.model} on {self.dataset} ({self.split} split, {self.n_images} {self.noun}"
            f"{task}), code dimension {self.code_dim}",
            "metric".ljust(first) + "".join(c.rjust(width) for c in columns),
        ]
        for metric in metrics.names:
            cells = "".join(metrics.format(metric, v.get(metric)).rjust(width) for v in values)
            lines.append(metric.ljust(first) + cells + f"   ({metrics.better(metric)} is better)")
        lines += [f"note: {n}" for n in self.notes]
        if self.more_table:
            lines.append(self.more_table)
        if self.likelihood is not None:
            lk = self.likelihood
            lines.append(
                f"log-likelihood on dynamically binarized images, {lk['k']} importance samples: "
                f"NLL {lk['nll']:.2f} nats, -ELBO {lk['neg_elbo']:.2f} nats per image"
            )
        if self.own_metrics is not None and metrics.specificity:
            name = metrics.specificity
            own, here = self.own_metrics[name], self.metrics[name]
            unit = f" {metrics.units[name]}" if name in metrics.units else ""
            lines.append(
                f"data specificity: {name.upper()} {metrics.format(name, own)} on its own data "
                f"({self.own_dataset}), {metrics.format(name, here)} on {self.dataset}: "
                f"{own - here:+.2f}{unit} drop"
            )
        return "\n".join(lines)


def _modality(modality: str | Modality) -> Modality:
    return get_modality(modality) if isinstance(modality, str) else modality


@torch.no_grad()
def evaluate_model(
    model: torch.nn.Module,
    rows: np.ndarray,
    task: Task = identity,
    *,
    baselines: dict[str, Baseline] | None = None,
    batch_size: int = 512,
    precision: str = "fp32",
    seed: int = 0,
    labels: np.ndarray | None = None,
    modality: str | Modality = DEFAULT_MODALITY,
) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    """Per-row metric means of the model, and of each baseline, on the same task pairs, for
    raw rows as a dataset stores them (images: uint8 (N, C, H, W)).

    The task's randomness (noise) comes from a generator seeded by `seed`, so every call, and
    every baseline within a call, scores the very same noisy inputs.
    """
    kind = _modality(modality)
    kind.check_input(model, task, rows.shape[1:])
    model.eval()
    prepared = prepared_task(task, modality=kind)
    score = kind.metrics.score
    generator = torch.Generator().manual_seed(derived_seed(seed, 0, 4))
    ours = MetricMeans()
    theirs = {name: MetricMeans() for name in baselines or {}}
    tensor = torch.from_numpy(np.require(rows, requirements=["C", "W"]))  # read-only: copy
    ys = None if labels is None else torch.from_numpy(np.asarray(labels, dtype=np.int64))
    for start in range(0, tensor.shape[0], batch_size):
        y = None if ys is None else ys[start : start + batch_size]
        inputs, target = prepared(tensor[start : start + batch_size], generator)
        with autocast(precision):
            recon = model(inputs, y).recon.float()
        ours.add(score(recon, target))
        for name, baseline in (baselines or {}).items():
            theirs[name].add(score(baseline(inputs), target))
    return ours.means(), {name: m.means() for name, m in theirs.items()}


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
    modality: str | Modality = DEFAULT_MODALITY,
    more: bool = True,
) -> EvalReport:
    """The full report: the model on `dataset.<split>` beside the task's classical baselines.

    `fitted` is what the modality's `baselines` returned, for a caller that also shows the
    baselines' outputs (aekit report) and should not fit PCA and tune the denoisers twice.
    """
    kind = _modality(modality)
    subset = getattr(dataset, split)
    rows, labels = subset.rows[:limit], subset.labels
    labels = None if labels is None else labels[:limit]
    baselines, notes = fitted if fitted is not None else kind.baselines(model, dataset, task)
    ours, theirs = evaluate_model(
        model, rows, task, baselines=baselines, batch_size=batch_size, labels=labels,
        modality=kind,
    )  # fmt: skip
    extra = kind.evaluate_more(model, dataset, split, rows, baselines, task=task) if more else None
    return EvalReport(
        model=model_name, dataset=dataset.name, split=split, n_images=int(rows.shape[0]),
        code_dim=int(model.code_dim), metrics=ours, baselines=theirs, notes=list(notes),
        task=task_name(task), modality=kind.name, noun=getattr(subset, "noun", "images"),
        more=None if extra is None else extra.to_dict(),
        more_table=None if extra is None else extra.table(),
    )  # fmt: skip
