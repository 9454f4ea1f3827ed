"""Run directories: safetensors weights + JSON config, written atomically; resume; `load_run`.

A run directory holds

    config.json                  model name and config, data, training and task settings
    model.safetensors            the weights to use: best validation loss so far
    checkpoint.safetensors       everything needed to resume: weights, optimizer state, RNG
                                 states (the task's and torch's CPU generator always, the
                                 training device's own as rng.cuda or rng.mps), and (in its
                                 JSON metadata) the trainer's position and history; rewritten
                                 at each epoch end (and every train.checkpoint_every steps, and
                                 on Ctrl-C)
    checkpoint.prev.safetensors  the checkpoint before that one, kept as a fallback
    metrics.jsonl                one JSON line per finished epoch

Every file is written to a temporary name in the same directory, fsynced, and renamed over the
old one, so a kill at any moment leaves either the old file or the new one, never half of one;
a full disk fails the write before the rename and so leaves the old file too. Resume state lives
in ONE file so weights and optimizer can never come from different steps.

Every safetensors file we write carries a SHA-256 of its tensors (names, dtypes, shapes, bytes)
and its JSON metadata, because the atomic rename guards against kills, not against a disk or a
copy that flips bits: a checkpoint that fails its hash on resume is set aside as
``checkpoint.safetensors.corrupt`` and the previous one is used, with a message saying so.
Before a new checkpoint replaces the newest, the newest is hard-linked (or copied) to
``checkpoint.prev.safetensors``, so at every moment ``checkpoint.safetensors`` exists.
Nothing here unpickles: a checkpoint is tensors and JSON and can never run code.

Files hold CPU tensors whatever device trained them; loading moves them to the model's device
(parameters via load_state_dict, optimizer slots via Optimizer.load_state_dict), so a run
trained on a GPU loads, resumes and evaluates on a CPU and the other way round.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, safe_open, save_file

from aekit.atomic import DiskFullError, atomic_path, remove_stale_temps, write_text_atomic
from aekit.errors import AekitError, first_line
from aekit.runtime.runtime import CPU_RNG_KEY, DEVICE_RNG_KEYS, Runtime, split_rank_rng_key

log = logging.getLogger(__name__)

CONFIG = "config.json"
WEIGHTS = "model.safetensors"
CHECKPOINT = "checkpoint.safetensors"
PREVIOUS = "checkpoint.prev.safetensors"
CORRUPT = "checkpoint.safetensors.corrupt"  # a newest checkpoint that failed, set aside
METRICS = "metrics.jsonl"
HASH_KEY = "aekit_sha256"  # safetensors metadata key of the content hash


def content_hash(tensors: dict[str, torch.Tensor], meta_json: str) -> str:
    """SHA-256 over every tensor (sorted by name: its name, dtype, shape, then raw bytes) and the
    JSON metadata string; what a file must reproduce on load to count as intact."""
    digest = hashlib.sha256()
    for name in sorted(tensors):
        t = tensors[name].detach().cpu().contiguous()
        digest.update(json.dumps([name, str(t.dtype), list(t.shape)]).encode())
        digest.update(t.reshape(-1).view(torch.uint8).numpy())
    digest.update(meta_json.encode())
    return digest.hexdigest()


def save_tensors_atomic(
    path: Path,
    tensors: dict[str, torch.Tensor],
    metadata: dict[str, Any] | None = None,
    *,
    keep_previous: Path | None = None,
) -> None:
    """Write tensors + JSON metadata + their content hash; with `keep_previous`, the file being
    replaced is first linked there, once the new one is completely written."""
    # safetensors wants plain contiguous CPU tensors (channels-last weights are not contiguous).
    plain = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
    meta_json = json.dumps(metadata or {}, sort_keys=True)
    meta = {"aekit": meta_json, HASH_KEY: content_hash(plain, meta_json)}
    with atomic_path(path) as tmp:
        try:
            save_file(plain, str(tmp), metadata=meta)
        except SafetensorError as exc:
            raise _os_error(exc) from None
        if keep_previous is not None and path.is_file():
            link_or_copy(path, keep_previous)


def _os_error(exc: SafetensorError) -> Exception:
    """safetensors reports a failed write as "... (os error 28)"; give it back its errno, so a
    full disk reads as one (atomic.py turns ENOSPC into a one-line DiskFullError)."""
    found = re.search(r"os error (\d+)", str(exc))
    if found is None:
        return exc
    number = int(found.group(1))
    return OSError(number, os.strerror(number))


def link_or_copy(source: Path, target: Path) -> None:
    """Atomically make `target` a hard link to `source` (free: no bytes are copied), or a copy
    on filesystems without hard links."""
    with atomic_path(target) as tmp:
        try:
            os.link(source, tmp)
        except OSError:
            shutil.copyfile(source, tmp)


def load_tensors(
    path: Path, *, require_hash: bool = False
) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Read a safetensors file written by `save_tensors_atomic`: (tensors, metadata).

    The content hash is checked whenever the file has one; `require_hash` (checkpoints) also
    refuses a file without one, since a flipped byte in the hash's own key would drop it.
    """
    if not path.is_file():
        raise AekitError(f"{str(path)!r} does not exist")
    try:
        with safe_open(str(path), framework="pt") as f:
            header = f.metadata() or {}
        raw_meta = header.get("aekit", "{}")
        tensors = load_file(str(path))
        meta = json.loads(raw_meta)
    except (SafetensorError, OSError, ValueError, RecursionError) as exc:
        first = first_line(exc)
        raise AekitError(f"{str(path)!r} is not a readable safetensors file ({first})") from None
    if not isinstance(meta, dict):
        raise AekitError(f"{str(path)!r}: its aekit metadata is not a JSON object; not aekit's")
    expected = header.get(HASH_KEY)
    if expected is None and require_hash:
        raise AekitError(f"{str(path)!r} carries no content hash, so it cannot be trusted")
    if expected is not None and content_hash(tensors, raw_meta) != expected:
        raise AekitError(
            f"{str(path)!r} is corrupt: its content does not match the SHA-256 stored in it"
        )
    return tensors, meta


# -- training checkpoints ------------------------------------------------------------------------


def training_tensors(
    model: torch.nn.Module,
    optimizers: dict[str, torch.optim.Optimizer],
    rng: dict[str, torch.Tensor],
) -> tuple[dict[str, torch.Tensor], dict[str, dict]]:
    """The tensors of a checkpoint (weights, optimizer slots, the `rng.*` generator states the
    trainer passes) and the optimizers' JSON part, which goes into the metadata."""
    optim_tensors, optim_meta = optimizers_state(optimizers)
    tensors = {f"model.{k}": v for k, v in model.state_dict().items()}
    tensors.update(optim_tensors)
    tensors.update(rng)
    return tensors, optim_meta


def save_checkpoint(
    out_dir: Path, tensors: dict[str, torch.Tensor], meta: dict[str, Any], history: list[dict]
) -> None:
    """Replace checkpoint.safetensors (keeping the one it replaces as the fallback), then
    metrics.jsonl, which resume rewrites from the checkpoint's history if a kill came between."""
    with resume_hint(out_dir):
        save_tensors_atomic(out_dir / CHECKPOINT, tensors, meta, keep_previous=out_dir / PREVIOUS)
        write_metrics(out_dir, history)


@contextlib.contextmanager
def resume_hint(out_dir: Path):
    """A disk that fills up mid-run: the message also says how to go on once there is space."""
    try:
        yield
    except DiskFullError as exc:
        hint = f"then continue with: aekit train --resume --out {out_dir}"
        raise DiskFullError(f"{exc}; {hint}") from None


@dataclass
class Checkpoint:
    path: Path
    tensors: dict[str, torch.Tensor]
    meta: dict[str, Any]


def describe_position(position: Any) -> str:
    """For messages only; the position is checked before use (resume_check.py), not here."""
    try:
        if position["step"] == 0:
            return f"saved after epoch {position['epoch']}"
        return f"saved at epoch {position['epoch'] + 1} step {position['step']}"
    except (KeyError, TypeError):  # a hash-valid file need not be aekit's
        return "at a position it does not state"


def load_checkpoint(out_dir: Path, *, tidy: bool = True) -> Checkpoint | None:
    """The newest checkpoint of a run that reads and passes its hash; None if it has none.

    A newest checkpoint that fails is set aside as checkpoint.safetensors.corrupt and the
    previous one takes its place, with a warning saying so (the CLI shows it on stderr); when
    both fail the AekitError names both problems. Temporary files left by a kill are removed.

    `tidy` False only reads (the same checkpoint, fallback included): the ranks other than the
    writer of a run with several processes, which must not touch the run directory -- removing
    "stale" temporary files there would remove the ones the writer is writing at that moment.
    """
    if tidy:
        remove_stale_temps(out_dir)
    newest, previous = out_dir / CHECKPOINT, out_dir / PREVIOUS
    if not newest.is_file() and not previous.is_file():
        return None
    try:
        return Checkpoint(newest, *load_tensors(newest, require_hash=True))
    except AekitError as exc:
        problem = str(exc)
    restart = "start the run again with another --out"
    if not previous.is_file():
        raise AekitError(f"{problem}, and there is no {PREVIOUS} to fall back on; {restart}")
    try:
        tensors, meta = load_tensors(previous, require_hash=True)
    except AekitError as exc:
        raise AekitError(f"no usable checkpoint: {problem}; {exc}; {restart}") from None
    if not tidy:
        return Checkpoint(previous, tensors, meta)  # the writer says it and sets it aside
    aside = ""
    if newest.is_file():
        newest.replace(out_dir / CORRUPT)
        aside = f" (set aside as {CORRUPT})"
    link_or_copy(previous, newest)
    log.warning(
        f"{problem}{aside}; resuming from {PREVIOUS}, {describe_position(meta.get('position'))}"
    )
    return Checkpoint(previous, tensors, meta)


def saved_world_size(tensors: dict[str, torch.Tensor]) -> int:
    """How many processes' generator streams a checkpoint holds: rank 0's under the one-process
    keys (rng.torch...), rank r's under rng.rankR.* (resume_check has checked that they run
    from rank 1 up without a gap)."""
    ranks = [found[0] for key in tensors if (found := split_rank_rng_key(key)) is not None]
    return 1 + max(ranks, default=0)


def rank_rng_states(tensors: dict[str, torch.Tensor], rank: int) -> dict[str, torch.Tensor]:
    """Rank `rank`'s own generator states, under the one-process keys; empty when the
    checkpoint holds none for that rank."""
    if rank == 0:
        return {k: tensors[k] for k in (CPU_RNG_KEY, *DEVICE_RNG_KEYS.values()) if k in tensors}
    own = {}
    for key, value in tensors.items():
        found = split_rank_rng_key(key)
        if found is not None and found[0] == rank:
            own[found[1]] = value
    return own


def restore_rng(runtime: Runtime, tensors: dict[str, torch.Tensor], fallback_seed: int) -> str:
    """Put back the generator stream this rank continues on resume, and say which.

    This is the one place that decides it, for any world size the resumed run has (the world
    size may change on resume; the global batch may not, runtime.check_batch_size):

    * the batch order and the task's draws (noise, crops) come from (seed, epoch) and rng.task,
      the same on every rank, so they continue exactly whatever the world size;
    * a rank the saving run also had (rank < the saved world size) continues its own stream of
      torch's global generator (rank 0: rng.torch; rank r: rng.rankR.torch): with the world
      size unchanged the resumed run is bitwise the run that never stopped;
    * a rank the saving run did not have (more processes now) starts a new stream seeded with
      `fallback_seed`, which the trainer derives from (seed, epoch, step, rank): distinct from
      every other rank's, and the same on every resume from this checkpoint, so the resumed
      run is reproducible;
    * the streams of saved ranks beyond the new world size (fewer processes now) are not
      continued: their rows are now another rank's, drawn from that rank's own stream.

    Only a model's own draws (a VAE's reparameterisation noise, the AAE's prior samples) come
    from these streams. A model without them (a denoising conv-ae: its noise is the task's)
    therefore resumes on another world size to the run it would have been, up to the rounding
    of the gradient all-reduce; one with them continues with other, equally random, draws --
    which no choice could avoid, since rank 1's rows of a 2-process run are rank 0's now.
    """
    saved = saved_world_size(tensors)
    own = rank_rng_states(tensors, runtime.rank)
    if runtime.rank >= saved:
        torch.manual_seed(fallback_seed)  # the CPU's and every device's generator
        return (
            f"a new random stream for rank {runtime.rank} (the checkpoint holds the streams of "
            f"{saved} process{'es' * (saved > 1)})"
        )
    said = runtime.restore_rng_states(own, fallback_seed)
    if runtime.rank:
        said += f" of rank {runtime.rank}"
    if runtime.rank == 0 and saved > runtime.world_size:
        said += f"; the saved streams of ranks >= {runtime.world_size} are not continued"
    return said


def load_best_weights(out_dir: Path) -> dict[str, torch.Tensor] | None:
    """model.safetensors on resume, so a resumed run ends holding the best weights in memory
    too; unreadable, it is only a warning, since the run rewrites it at its next improvement."""
    try:
        return load_tensors(out_dir / WEIGHTS)[0]
    except AekitError as exc:
        log.warning(f"{exc}; it is rewritten when the loss next improves")
        return None


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


def optimizer_tensors(tensors: dict[str, torch.Tensor], name: str) -> dict[str, torch.Tensor]:
    """Optimizer `name`'s tensors from a checkpoint, keyed `<param>.<slot>`."""
    prefix = f"optim.{name}."
    return {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}


def restore_optimizers(
    optimizers: dict[str, torch.optim.Optimizer], tensors: dict[str, torch.Tensor], meta: dict
) -> None:
    """Load every named optimizer; the state was checked first by resume_check."""
    for opt_name, optimizer in optimizers.items():
        restore_optimizer(optimizer, optimizer_tensors(tensors, opt_name), meta[opt_name])


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
        if value.dtype != expected[name].dtype:  # load_state_dict would cast, even complex
            raise AekitError(
                f"{str(path)!r}: tensor {name} is {value.dtype}, the config's model needs "
                f"{expected[name].dtype}; it was not written by aekit for this model"
            )
    model.load_state_dict(tensors)


def read_metrics(run_dir: Path) -> list[dict[str, Any]]:
    path = run_dir / METRICS
    if not path.is_file():
        return []
    rows = []
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise AekitError(f"{str(path)!r} is not UTF-8 text, so not aekit's metrics") from None
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except (ValueError, RecursionError):  # not JSON, nested too deep, 4301+ digits
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
    from aekit.config import RunConfig, from_dict, load_config_file

    path = run_dir / CONFIG
    if not path.is_file():
        raise AekitError(f"{str(run_dir)!r} is not an aekit run directory (no {CONFIG})")
    # The same reader as --config files: nesting, huge integers and non-JSON values refused.
    config = from_dict(RunConfig, load_config_file(path), where="run")
    # The task table is the run's modality's to check (config.py knows no modality).
    from aekit.modalities import check_run_config

    return check_run_config(config)


def load_run(run_dir: str | os.PathLike, device: str | torch.device = "cpu") -> Run:
    """Rebuild a run's model from config.json + model.safetensors alone (no pickle, no code),
    on `device` (auto, cpu, cuda[:N], mps; whichever device trained it)."""
    from aekit.models import build_model  # here: models import config, which imports training
    from aekit.runtime.device import resolve_device

    target = resolve_device(device)  # a device the machine lacks fails before any reading

    path = Path(run_dir)
    config = read_run_config(path)
    model = build_model(config.model_name, config.model)
    weights = path / WEIGHTS
    if not weights.is_file():
        raise AekitError(f"run {str(path)!r} has no {WEIGHTS} yet: train it (or --resume it)")
    load_weights(model, weights)
    model.to(target).eval()
    return Run(path=path, config=config, model=model, metrics=read_metrics(path))
