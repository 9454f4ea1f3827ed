"""Run directories: safetensors weights + JSON config, written atomically; resume; `load_run`.

A run directory holds

    config.json              model name and config, data, training and task settings
    model.safetensors        the weights to use: best validation loss so far
    checkpoint.safetensors   everything needed to resume: weights, optimizer state, RNG states,
                             and (in its JSON metadata) the trainer's position and history
    metrics.jsonl            one JSON line per finished epoch

Every file is written to a temporary name in the same directory, fsynced, and renamed over the
old one, so a kill at any moment leaves either the old file or the new one, never half of one.
Resume state lives in ONE file so weights and optimizer can never come from different steps.
Nothing here unpickles: a checkpoint is tensors and JSON and can never run code.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, safe_open, save_file

from aekit.atomic import atomic_path, write_text_atomic
from aekit.errors import AekitError

CONFIG = "config.json"
WEIGHTS = "model.safetensors"
CHECKPOINT = "checkpoint.safetensors"
METRICS = "metrics.jsonl"


def save_tensors_atomic(
    path: Path, tensors: dict[str, torch.Tensor], metadata: dict[str, Any] | None = None
) -> None:
    # safetensors wants plain contiguous CPU tensors (channels-last weights are not contiguous).
    plain = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
    meta = {"aekit": json.dumps(metadata or {}, sort_keys=True)}
    with atomic_path(path) as tmp:
        save_file(plain, str(tmp), metadata=meta)


def load_tensors(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Read a safetensors file written by `save_tensors_atomic`: (tensors, metadata)."""
    if not path.is_file():
        raise AekitError(f"{str(path)!r} does not exist")
    try:
        with safe_open(str(path), framework="pt") as f:
            raw_meta = (f.metadata() or {}).get("aekit", "{}")
        tensors = load_file(str(path))
        meta = json.loads(raw_meta)
    except (SafetensorError, OSError, ValueError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise AekitError(f"{str(path)!r} is not a readable safetensors file ({first})") from None
    return tensors, meta


def optimizers_state(
    optimizers: dict[str, torch.optim.Optimizer],
) -> tuple[dict[str, torch.Tensor], dict[str, dict]]:
    """Split each named optimizer's state_dict into tensors (`optim.<name>.<param>.<slot>`, for
    safetensors) and plain JSON data (its param groups and scalar slots)."""
    tensors: dict[str, torch.Tensor] = {}
    meta: dict[str, dict] = {}
    for opt_name, optimizer in optimizers.items():
        state = optimizer.state_dict()
        scalars: dict[str, dict[str, Any]] = {}
        for index, slots in state["state"].items():
            for name, value in slots.items():
                if isinstance(value, torch.Tensor):
                    tensors[f"optim.{opt_name}.{index}.{name}"] = value
                else:
                    scalars.setdefault(str(index), {})[name] = value
        meta[opt_name] = {"param_groups": state["param_groups"], "scalars": scalars}
    return tensors, meta


def restore_optimizers(
    optimizers: dict[str, torch.optim.Optimizer], tensors: dict[str, torch.Tensor], meta: dict
) -> None:
    if set(meta) != set(optimizers):
        raise AekitError(
            f"the checkpoint has optimizers {sorted(meta)}, the model trains with "
            f"{sorted(optimizers)}: it belongs to another model"
        )
    for opt_name, optimizer in optimizers.items():
        prefix = f"optim.{opt_name}."
        mine = {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}
        restore_optimizer(optimizer, mine, meta[opt_name])


def restore_optimizer(
    optimizer: torch.optim.Optimizer, tensors: dict[str, torch.Tensor], meta: dict
) -> None:
    """Load one optimizer from its `<param>.<slot>` tensors and JSON meta."""
    state: dict[int, dict[str, Any]] = {}
    for key, value in tensors.items():
        index, name = key.split(".", 1)
        state.setdefault(int(index), {})[name] = value
    for index, slots in meta["scalars"].items():
        state.setdefault(int(index), {}).update(slots)
    groups = [
        {k: tuple(v) if isinstance(v, list) and k != "params" else v for k, v in group.items()}
        for group in meta["param_groups"]
    ]
    optimizer.load_state_dict({"state": state, "param_groups": groups})
    # safetensors stores plain contiguous tensors; give each moment buffer its parameter's
    # memory format again (channels-last), since fused optimizers walk param and state memory in
    # lockstep and a layout mismatch would pair the wrong elements.
    for group in optimizer.param_groups:
        for param in group["params"]:
            slots = optimizer.state.get(param, {})
            for name, value in slots.items():
                if isinstance(value, torch.Tensor) and value.shape == param.shape:
                    slots[name] = torch.empty_like(param, dtype=value.dtype).copy_(value)


def load_weights(model: torch.nn.Module, path: Path) -> None:
    """Load `model.*`-free weights (a model.safetensors) strictly, explaining any mismatch."""
    tensors, _ = load_tensors(path)
    match_weights(model, tensors, path)


def match_weights(model: torch.nn.Module, tensors: dict[str, torch.Tensor], path: Path) -> None:
    expected = model.state_dict()
    missing = sorted(set(expected) - set(tensors))
    extra = sorted(set(tensors) - set(expected))
    if missing or extra:
        raise AekitError(
            f"{str(path)!r} does not fit the model in its config.json "
            f"(missing {missing[:3]}, unexpected {extra[:3]})"
        )
    for name, value in tensors.items():
        if value.shape != expected[name].shape:
            raise AekitError(
                f"{str(path)!r}: tensor {name} has shape {tuple(value.shape)}, "
                f"the config's model needs {tuple(expected[name].shape)}"
            )
    model.load_state_dict(tensors)


def read_metrics(run_dir: Path) -> list[dict[str, Any]]:
    path = run_dir / METRICS
    if not path.is_file():
        return []
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                raise AekitError(f"{str(path)!r} line {number} is not JSON") from None
    return rows


def write_metrics(run_dir: Path, rows: list[dict[str, Any]]) -> None:
    text = "".join(json.dumps(row, sort_keys=True) + "\n" for row in rows)
    write_text_atomic(run_dir / METRICS, text)


@dataclass
class Run:
    """A trained run loaded back: the model (eval mode, fp32), its config and its history."""

    path: Path
    config: Any  # aekit.config.RunConfig
    model: torch.nn.Module
    metrics: list[dict[str, Any]]


def read_run_config(run_dir: Path):
    """The RunConfig in a run directory's config.json, checked key by key."""
    from aekit.config import RunConfig, from_dict

    path = run_dir / CONFIG
    if not path.is_file():
        raise AekitError(f"{str(run_dir)!r} is not an aekit run directory (no {CONFIG})")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise AekitError(f"{str(path)!r} is not valid JSON ({exc})") from None
    return from_dict(RunConfig, raw, where="run")


def load_run(run_dir: str | os.PathLike) -> Run:
    """Rebuild a run's model from config.json + model.safetensors alone (no pickle, no code)."""
    from aekit.models import build_model  # here: models import config, which imports training

    path = Path(run_dir)
    config = read_run_config(path)
    model = build_model(config.model_name, config.model)
    weights = path / WEIGHTS
    if not weights.is_file():
        raise AekitError(f"run {str(path)!r} has no {WEIGHTS} yet: train it (or --resume it)")
    load_weights(model, weights)
    model.eval()
    return Run(path=path, config=config, model=model, metrics=read_metrics(path))
