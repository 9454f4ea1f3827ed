"""A training run from one `RunConfig`: load the data, build the model, train, save.

The CLI's `train` command and Python users both come through `train_run`, so a run started
either way leaves the same run directory (training/checkpoint.py) and can be resumed either way.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from aekit import __version__
from aekit.config import RunConfig, to_dict
from aekit.datasets import modality_of
from aekit.errors import AekitError
from aekit.modalities import DEFAULT_MODALITY, Modality, get_modality
from aekit.models import build_model, model_entry, spec_of
from aekit.runtime.device import describe_device
from aekit.runtime.distributed import process_group, torchrun_launch
from aekit.runtime.runtime import Runtime
from aekit.training import checkpoint as ckpt
from aekit.training.config import TrainConfig
from aekit.training.trainer import EpochCallback, FitResult, Trainer, derived_seed


def default_run_config(model_name: str, modality: str = DEFAULT_MODALITY) -> RunConfig:
    """A RunConfig whose `model` table lists every field of the model's config with its default
    (so ``--set model.x=...`` can be checked against real keys), and whose `task` table lists
    the modality's; what the data determines (image_shape) is left to the data."""
    _, config_cls = model_entry(model_name)
    model = {k: v for k, v in to_dict(config_cls()).items() if k != "image_shape"}
    task = get_modality(modality).default_task()
    return RunConfig(
        model_name=model_name, model=model, modality=modality, task=task,
        aekit_version=__version__,
    )  # fmt: skip


def load_data(config: RunConfig, **changes: Any) -> Any:
    """The run's dataset (with `changes` to its DataConfig, e.g. another name for `eval`),
    loaded by the run's modality; data of another modality is refused in one line."""
    data = replace(config.data, **changes)
    if not data.name:
        raise AekitError(
            "this run does not record its dataset (it was trained from Python); pass --data"
        )
    modality = get_modality(config.modality)
    owner = modality_of(data.name)
    if owner is not None and owner != modality.name:
        raise AekitError(
            f"{data.name!r} is {owner} data, but this run's model learns from "
            f"{modality.name} (run.modality)"
        )
    return modality.load(data)


def run_data(config: RunConfig, data: str | None = None, data_dir: str | Path | None = None):
    """The run's dataset, or the one `--data` names, looked for first in `--data-dir`."""
    changes: dict[str, Any] = {} if data is None else {"name": data}
    if data_dir is not None:
        changes["data_dir"] = str(data_dir)
    return load_data(config, **changes)


@dataclass(frozen=True)
class OpenRun:
    """A trained run and the data it is to be used on."""

    run: ckpt.Run
    dataset: Any

    @property
    def modality(self) -> Modality:
        return get_modality(self.run.config.modality)


def open_run(
    run_dir: str | Path, data: str | None = None, data_dir: str | Path | None = None
) -> OpenRun:
    """Load a run and its dataset (or --data's, looked for first in --data-dir)."""
    run = ckpt.load_run(run_dir)
    return OpenRun(run, run_data(run.config, data, data_dir))


def build_for_data(config: RunConfig, data_shape: tuple[int, ...], num_classes: int | None = None):
    """The run's (model, task) for rows of `data_shape`: the modality says what the model is
    given (images: the task's input, a low-res copy for super-resolution) and checks that the
    model's output is the task's target."""
    modality = get_modality(config.modality)
    task = modality.build_task(config.task)
    fields = {**config.model, **modality.model_fields(task, tuple(data_shape))}
    if spec_of(config.model_name).conditional:  # as many classes as the data has
        if num_classes is None:
            raise AekitError(f"{config.model_name} is conditioned on labels; this data has none")
        fields["num_classes"] = num_classes
    # The initial weights come from train.seed too (its own stream), so two runs with one seed
    # are the same run, and a run killed before its first checkpoint restarts as it began.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(derived_seed(config.train.seed, 0, 7))
        model = build_model(config.model_name, fields)
    modality.check_model(model, task, tuple(data_shape), config.model_name)
    return model, task


def class_count(dataset: Any) -> int | None:
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
    log: Sequence[str] = (),
) -> FitResult:
    """Train `config` into `out_dir`; with `resume`, continue the run already there (its own
    config.json wins, so a resumed run is the run that was started). `callbacks` run after
    each epoch (the demo advances its overall progress bar with one). `device` (auto, cpu,
    cuda[:N], mps) is where this process trains, not part of the run: a resume may pick
    another. Started by torchrun (WORLD_SIZE > 1), each process trains its slice of every
    batch in one process group, and rank 0 alone writes `out_dir` (docs/distributed.md).
    `log` names experiment trackers (tensorboard, mlflow; aekit.tracking), which rank 0 fills
    with what it writes to metrics.jsonl, every step's losses and a picture per epoch."""
    from aekit.tracking import check_names

    log = check_names(log)  # every rank: a bad name or a missing extra fails before any data
    out = Path(out_dir)
    if resume:
        config = ckpt.read_run_config(out)
    elif (out / ckpt.CONFIG).exists():  # checked before loading data, to fail fast
        raise AekitError(
            f"{str(out)!r} already holds a run; continue it with --resume or choose another --out"
        )
    launch = torchrun_launch()  # before joining a group: every rank fails alike, and fast
    if launch is not None and config.train.batch_size is not None:  # unset: chosen to fit
        Runtime(torch.device("cpu"), "fp32", launch.rank, launch.world_size).check_batch_size(
            config.train.batch_size
        )
    with process_group(device, config.train.precision) as runtime:
        return _train(
            config, out, runtime, resume, progress and runtime.is_writer, callbacks, device, log
        )


def plan_line(train: TrainConfig, rows: int) -> str:
    """`train` (resolved) as a line: epochs, steps and batch size for `rows` training rows."""
    steps = max(rows // train.batch_size, 1)
    return (
        f"plan: {train.epochs} epochs x {steps} steps of batch {train.batch_size} "
        f"({train.epochs * steps:,} optimizer steps) on {rows:,} training rows"
    )


def _train(config, out, runtime, resume, progress, callbacks, device, log) -> FitResult:
    if progress:  # through tqdm, so a progress bar around this call (the demo's) stays whole
        tqdm.write(describe_device(device, runtime.device), file=sys.stderr)
    dataset = load_data(config)
    shape = get_modality(config.modality).data_shape(dataset)
    model, task = build_for_data(config, shape, class_count(dataset))
    config = replace(config, model=to_dict(model.config), task=to_dict(task.config))
    # Unset epochs and batch size, chosen for this split now, so the plan line, the trackers'
    # hyperparameters and config.json all say what runs (the trainer would choose the same).
    config = replace(config, train=config.train.resolved(len(dataset.train), runtime.world_size))
    if progress:
        tqdm.write(plan_line(config.train, len(dataset.train)), file=sys.stderr)
    tracking = None
    if log and runtime.is_writer:
        from aekit.tracking import open_tracking

        picture = picture_of(get_modality(config.modality), task, dataset)
        tracking = open_tracking(log, out, to_dict(config), picture)
    trainer = Trainer(
        model, config.train, out_dir=out, task=task, progress=progress, run_config=config,
        callbacks=callbacks, runtime=runtime, tracker=tracking,
    )  # fmt: skip
    with contextlib.nullcontext() if tracking is None else tracking:  # closed however fit ends
        return trainer.fit(dataset.train, dataset.val, resume=resume)


PICTURE_ROWS = 8  # columns of the tracking picture


def picture_of(modality: Modality, task: Any, dataset: Any):
    """The per-epoch picture for trackers: the modality's drawing of the first few validation
    rows (training rows when there is no validation split), the same rows every epoch."""
    split = dataset.val if len(dataset.val) else dataset.train
    index = np.arange(min(PICTURE_ROWS, len(split)))
    rows = np.asarray(split.rows[index])
    labels = None if split.labels is None else np.asarray(split.labels)[index]
    return lambda model: modality.picture(model, task, rows, labels)
