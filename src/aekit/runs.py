"""A training run from one `RunConfig`: load the data, build the model, train, save.

The CLI's `train` command and Python users both come through `train_run`, so a run started
either way leaves the same run directory (training/checkpoint.py) and can be resumed either way.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from aekit import __version__
from aekit.config import RunConfig, to_dict
from aekit.errors import AekitError
from aekit.modalities.images.data import Dataset, load_dataset
from aekit.modalities.images.tasks import build_task
from aekit.models import build_model, model_entry
from aekit.runtime.device import describe_device
from aekit.runtime.runtime import Runtime
from aekit.training import checkpoint as ckpt
from aekit.training.trainer import EpochCallback, FitResult, Trainer, derived_seed


def default_run_config(model_name: str) -> RunConfig:
    """A RunConfig whose `model` table lists every field of the model's config with its default
    (so ``--set model.x=...`` can be checked against real keys); image_shape comes from the data."""
    _, config_cls = model_entry(model_name)
    model = {k: v for k, v in to_dict(config_cls()).items() if k != "image_shape"}
    return RunConfig(model_name=model_name, model=model, aekit_version=__version__)


def load_data(config: RunConfig, **changes: Any) -> Dataset:
    """The run's dataset (with `changes` to its DataConfig, e.g. another name for `eval`)."""
    data = replace(config.data, **changes)
    if not data.name:
        raise AekitError(
            "this run does not record its dataset (it was trained from Python); pass --data"
        )
    return load_dataset(
        data.name, data_dir=data.data_dir, val_fraction=data.val_fraction, seed=data.seed,
        image_size=data.image_size, limit=data.limit,
    )  # fmt: skip


def build_for_data(config: RunConfig, image_shape: tuple[int, ...], num_classes: int | None = None):
    """The run's (model, task) for images of `image_shape`: the model's input is what the task
    makes of them (a low-res copy for super-resolution), and its output must be the target."""
    task = build_task(config.task)
    input_shape = task.input_shape(tuple(image_shape))
    fields = {**config.model, "image_shape": list(input_shape)}
    if "num_classes" in fields:  # conditional models: as many classes as the data has
        if num_classes is None:
            raise AekitError(f"{config.model_name} is conditioned on labels; this data has none")
        fields["num_classes"] = num_classes
    # The initial weights come from train.seed too (its own stream), so two runs with one seed
    # are the same run, and a run killed before its first checkpoint restarts as it began.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(derived_seed(config.train.seed, 0, 7))
        model = build_model(config.model_name, fields)
    target = tuple(image_shape)
    if config.task.patch is not None:  # the model learns on crops; targets are crops too
        target = (target[0], config.task.patch, config.task.patch)
    if tuple(model.output_shape) != target:
        hint = (
            "; use the sr model for --task superres"
            if config.task.name == "superres"
            else "; the sr model only fits --task superres with the same --scale"
        )
        raise AekitError(
            f"model {config.model_name!r} turns {input_shape} inputs into {model.output_shape}, "
            f"but task {config.task.name!r} needs {target}{hint}"
        )
    return model, task


def class_count(dataset: Dataset) -> int | None:
    if dataset.train.labels is None:
        return None
    return len(dataset.classes) if dataset.classes else int(dataset.train.labels.max()) + 1


def train_run(
    config: RunConfig,
    out_dir: str | Path,
    *,
    resume: bool = False,
    progress: bool = True,
    callbacks: Sequence[EpochCallback] = (),
    device: str | torch.device = "auto",
) -> FitResult:
    """Train `config` into `out_dir`; with `resume`, continue the run already there (its own
    config.json wins, so a resumed run is the run that was started). `callbacks` run after
    each epoch (the demo advances its overall progress bar with one). `device` (auto, cpu,
    cuda[:N], mps) is where this process trains, not part of the run: a resume may pick
    another."""
    out = Path(out_dir)
    if resume:
        config = ckpt.read_run_config(out)
    elif (out / ckpt.CONFIG).exists():  # checked before loading data, to fail fast
        raise AekitError(
            f"{str(out)!r} already holds a run; continue it with --resume or choose another --out"
        )
    runtime = Runtime.create(device, config.train.precision)  # before the data: fail fast
    if progress:  # through tqdm, so a progress bar around this call (the demo's) stays whole
        tqdm.write(describe_device(device, runtime.device), file=sys.stderr)
    dataset = load_data(config)
    model, task = build_for_data(config, dataset.image_shape, class_count(dataset))
    config = replace(config, model=to_dict(model.config))
    trainer = Trainer(
        model, config.train, out_dir=out, task=task, progress=progress, run_config=config,
        callbacks=callbacks, runtime=runtime,
    )  # fmt: skip
    return trainer.fit(dataset.train, dataset.val, resume=resume)
