"""The run directory as the trainer keeps it: config.json when a run starts, the state a fit
starts from (fresh, or read back from checkpoint.safetensors on resume), and each checkpoint it
saves. Functions of what they touch (the directory, the runtime, the model and its
optimizers), so `Trainer` keeps the loop and this module the files; the formats themselves are
`aekit.training.checkpoint`'s."""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch

from aekit import __version__
from aekit.atomic import write_json_atomic
from aekit.config import DataConfig, RunConfig, to_dict
from aekit.errors import AekitError
from aekit.modalities import task_name
from aekit.models import registered_name
from aekit.runtime.runtime import Runtime
from aekit.training import checkpoint as ckpt
from aekit.training.config import TrainConfig
from aekit.training.resume_check import check_resume_state

log = logging.getLogger("aekit.training.trainer")  # the trainer's messages, as before


def write_run_config(
    out_dir: Path | None, runtime: Runtime, model: torch.nn.Module, task: Any,
    run_config: RunConfig | None, train: TrainConfig,
) -> None:  # fmt: skip
    """config.json: what load_run needs to rebuild the model, and what made it."""
    if out_dir is None or not runtime.is_writer:
        return
    if (out_dir / ckpt.CONFIG).exists():
        raise AekitError(
            f"{str(out_dir)!r} already holds a run; resume it or choose another out_dir"
        )
    if out_dir.exists() and not out_dir.is_dir():
        raise AekitError(f"{str(out_dir)!r} exists and is not a directory")
    config = run_config or RunConfig(
        model_name=registered_name(model),
        model=to_dict(model.config),
        data=DataConfig(name=""),  # unknown here: `aekit eval` will ask for --data
        task=to_dict(getattr(task, "config", None) or {"name": task_name(task)}),
    )
    config = replace(config, train=train, aekit_version=__version__)
    write_json_atomic(out_dir / ckpt.CONFIG, to_dict(config))


def start_state(
    out_dir: Path | None, runtime: Runtime, model: torch.nn.Module,
    optimizers: dict[str, torch.optim.Optimizer], resume: bool,
) -> dict[str, Any]:  # fmt: skip
    """Where a fit starts: epoch, step, history, best loss and weights, the random states."""
    fresh = {"epoch": 0, "step": 0, "history": [], "best": None, "since_best": 0,
             "first_loss": None}  # fmt: skip
    if not resume:
        return fresh
    found = None
    if out_dir is not None:  # read by every rank, tidied by the writer alone
        found = ckpt.load_checkpoint(out_dir, tidy=runtime.is_writer)
    if found is None:
        if out_dir is None or not (out_dir / ckpt.CONFIG).is_file():
            raise AekitError(f"nothing to resume: no {ckpt.CHECKPOINT} in {str(out_dir)!r}")
        # Killed before its first checkpoint: the run starts over, with the same seed.
        log.warning(f"{out_dir} has no checkpoint yet; training it from the start")
        return fresh
    tensors, meta = found.tensors, found.meta
    weights = {k[len("model.") :]: v for k, v in tensors.items() if k.startswith("model.")}
    ckpt.match_weights(model, weights, found.path)
    check_resume_state(found.path, tensors, meta, optimizers)  # before any of it is used
    ckpt.restore_optimizers(optimizers, tensors, meta["optimizers"])
    # After a kill metrics.jsonl may hold epochs the checkpoint does not: they are redone.
    if runtime.is_writer:
        ckpt.write_metrics(out_dir, meta["history"])
    best = None if meta["best"] is None else ckpt.load_best_weights(out_dir)
    return {
        **fresh, **meta["position"], "history": meta["history"], "best": meta["best"],
        "since_best": meta["since_best"], "best_weights": best,
        "first_loss": meta.get("first_loss"),
        "rng": {k: v for k, v in tensors.items() if k.startswith("rng.")},
    }  # fmt: skip


def save_training_checkpoint(
    out_dir: Path | None, runtime: Runtime, model: torch.nn.Module,
    optimizers: dict[str, torch.optim.Optimizer], precision: str,
    history: list, state: dict[str, Any], position: dict[str, Any], task_gen: torch.Generator,
) -> None:  # fmt: skip
    """checkpoint.safetensors at `position`: weights, optimizers, every rank's random states."""
    if out_dir is None:
        return
    # Every rank: with several, this gathers each rank's generator states to the writer.
    rng = {**runtime.rng_states(), "rng.task": task_gen.get_state()}
    if not runtime.is_writer:
        return
    tensors, optim_meta = ckpt.training_tensors(model, optimizers, rng)
    meta = {
        "position": position, "history": history, "best": state["best"],
        "since_best": state["since_best"], "optimizers": optim_meta,
        "precision": precision, "first_loss": state["first_loss"],
        "device": runtime.device.type,  # for the record: resume may use another
    }  # fmt: skip
    ckpt.save_checkpoint(out_dir, tensors, meta, history)
