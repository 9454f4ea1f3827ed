"""Check a checkpoint's contents against the run that is about to resume from it.

A checkpoint that reads (and passes its content hash) was written whole, but not necessarily by
this run: a hand-edited file with a recomputed hash, one copied from a run of another config, or
one from a future aekit. Everything the trainer takes from it -- its position, history and best
loss, the RNG states, every optimizer slot -- is checked here before any of it is used, so such a
file is refused in one line instead of failing steps later with a KeyError from inside torch.

The optimizer slots expected are learned from the optimizer itself: one step of the same class
with the same settings on a two-element dummy parameter shows which slots it keeps, which of them
have the parameter's shape and which are scalars (Adam's ``step``).
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import torch

from aekit.errors import AekitError, first_line
from aekit.runtime.runtime import (
    CPU_RNG_KEY,
    CUDA_RNG_BYTES,
    DEVICE_RNG_KEYS,
    RANK_RNG_PREFIX,
    rank_rng_key,
    split_rank_rng_key,
)
from aekit.training.checkpoint import optimizer_tensors

POSITION_KEYS = ("epoch", "step", "sums", "count")


def check_resume_state(
    path: Path,
    tensors: dict[str, torch.Tensor],
    meta: dict[str, Any],
    optimizers: dict[str, torch.optim.Optimizer],
) -> None:
    """Raise AekitError naming the first thing in the checkpoint that this run cannot use.

    Model weights are checked by `checkpoint.match_weights`; this checks everything else.
    """
    problem = (
        _trainer_problem(meta)
        or _rng_problem(tensors)
        or _optimizers_problem(tensors, meta.get("optimizers"), optimizers)
    )
    if problem:
        raise AekitError(
            f"cannot resume from {str(path)!r}: {problem}; it was not written by this run "
            "(start the run again with another --out)"
        )


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _index(key: str) -> int:
    """A parameter index written as ASCII digits, else -1 ("²".isdigit() is true too)."""
    return int(key) if key.isascii() and key.isdigit() else -1


def _trainer_problem(meta: dict[str, Any]) -> str | None:
    missing = [
        k for k in ("position", "history", "best", "since_best", "optimizers") if k not in meta
    ]
    if missing:
        return f"its metadata lacks {', '.join(missing)}"
    position = meta["position"]
    if not isinstance(position, dict) or sorted(position) != sorted(POSITION_KEYS):
        return f"its position must hold exactly {', '.join(POSITION_KEYS)}"
    bad = [k for k in ("epoch", "step", "count") if not _is_count(position[k])]
    if bad:
        return f"position.{bad[0]} must be a whole number >= 0, got {position[bad[0]]!r}"
    sums = position["sums"]
    if not isinstance(sums, dict) or not all(_is_number(v) for v in sums.values()):
        return "position.sums must map loss names to numbers"
    history = meta["history"]
    if not isinstance(history, list) or not all(isinstance(row, dict) for row in history):
        return "its history must be a list of epoch rows"
    if meta["best"] is not None and not _is_number(meta["best"]):
        return f"its best loss must be a number or null, got {meta['best']!r}"
    if not _is_count(meta["since_best"]):
        return f"since_best must be a whole number >= 0, got {meta['since_best']!r}"
    first_loss = meta.get("first_loss")  # the divergence check's reference
    if first_loss is not None and not _is_number(first_loss):
        return f"its first_loss must be a number or null, got {first_loss!r}"
    return None


def _rng_problem(tensors: dict[str, torch.Tensor]) -> str | None:
    for key in ("rng.torch", "rng.task"):
        if key not in tensors:
            return f"it has no {key} tensor"
    ranks: dict[int, set[str]] = {}  # rank r >= 1 -> the one-process keys of its states
    for key, state in tensors.items():
        if not key.startswith("rng."):
            continue
        if key == "rng.task":
            problem = _state_problem(key, CPU_RNG_KEY, state)
        elif (found := split_rank_rng_key(key)) is not None:
            rank, own = found
            if own != CPU_RNG_KEY and own not in DEVICE_RNG_KEYS.values():
                return f"{key} is no random state aekit saves"
            ranks.setdefault(rank, set()).add(own)
            problem = _state_problem(key, own, state)
        elif key.startswith(RANK_RNG_PREFIX):
            return f"{key} is no random state aekit saves"
        else:
            problem = _state_problem(key, key, state)
        if problem:
            return problem
    # Rank r's streams (several processes, checkpoint.restore_rng): ranks 1..R, each with its
    # CPU state, so the saved world size is 1 + R.
    for rank in range(1, max(ranks, default=0) + 1):
        if CPU_RNG_KEY not in ranks.get(rank, set()):
            missing = rank_rng_key(CPU_RNG_KEY, rank)
            return f"it holds random states of ranks up to {max(ranks)} but no {missing}"
    return None


def _state_problem(key: str, kind: str, state: torch.Tensor) -> str | None:
    """What is wrong with `state`, saved under `key` as a generator state of `kind` (a
    one-process key: rng.torch for a CPU generator, rng.cuda or rng.mps), or None."""
    if kind == CPU_RNG_KEY:
        try:
            torch.Generator().set_state(state)  # the same CPU generator type as torch's own
        except (RuntimeError, TypeError) as exc:
            first = first_line(exc)
            return f"{key} is not a random generator state ({first})"
        return None
    if kind not in DEVICE_RNG_KEYS.values():
        return None  # not a generator state: nothing takes it
    # A device's generator state (saved when training there) cannot be tried on a machine
    # without that device; its form can: a flat byte string, 16 bytes for CUDA's Philox.
    fits = state.dtype == torch.uint8 and state.dim() == 1 and state.numel() > 0
    if kind == DEVICE_RNG_KEYS["cuda"]:
        fits = fits and state.numel() == CUDA_RNG_BYTES
    if not fits:
        return f"{key} is not a random generator state ({state.dtype} {tuple(state.shape)})"
    return None


def expected_slots(optimizer: torch.optim.Optimizer) -> dict[str, tuple[bool, torch.dtype] | None]:
    """Slot name -> (has the parameter's shape, dtype) for tensor slots, None for other values,
    as one step of the same optimizer on a dummy parameter leaves them."""
    takes = inspect.signature(type(optimizer)).parameters  # defaults also hold derived keys
    param = torch.zeros(2, requires_grad=True)
    dummy = type(optimizer)([param], **{k: v for k, v in optimizer.defaults.items() if k in takes})
    param.grad = torch.zeros(2)
    dummy.step()
    return {
        name: (value.shape == param.shape, value.dtype) if isinstance(value, torch.Tensor) else None
        for name, value in dummy.state[param].items()
    }


def _same_kind(saved: Any, live: Any) -> bool:
    """A saved param-group setting may differ in value from the live one, not in kind."""
    if isinstance(live, bool) or live is None:
        return saved is None or isinstance(saved, bool)
    if _is_number(live):
        return _is_number(saved)
    if isinstance(live, (tuple, list)):
        return (
            isinstance(saved, (tuple, list))
            and len(saved) == len(live)
            and all(_same_kind(s, v) for s, v in zip(saved, live, strict=True))
        )
    return type(saved) is type(live)


def _optimizers_problem(
    tensors: dict[str, torch.Tensor], saved: Any, optimizers: dict[str, torch.optim.Optimizer]
) -> str | None:
    if not isinstance(saved, dict) or set(saved) != set(optimizers):
        names = sorted(saved) if isinstance(saved, dict) else saved
        return f"it has optimizers {names!r}, this run trains with {sorted(optimizers)}"
    for name, optimizer in optimizers.items():
        mine = optimizer_tensors(tensors, name)
        problem = _optimizer_problem(name, optimizer, saved[name], mine)
        if problem:
            return problem
    return None


def _optimizer_problem(
    name: str, optimizer: torch.optim.Optimizer, saved: Any, tensors: dict[str, torch.Tensor]
) -> str | None:
    live = optimizer.state_dict()["param_groups"]
    if not isinstance(saved, dict) or set(saved) != {"param_groups", "scalars"}:
        return f"optimizer {name!r} must have param_groups and scalars"
    groups, scalars = saved["param_groups"], saved["scalars"]
    if not isinstance(groups, list) or len(groups) != len(live):
        return f"optimizer {name!r} must have {len(live)} parameter group(s)"
    for index, (group, own) in enumerate(zip(groups, live, strict=True)):
        if not isinstance(group, dict) or set(group) != set(own):
            return f"optimizer {name!r} group {index} has other settings than this run's"
        if group["params"] != own["params"]:
            return f"optimizer {name!r} group {index} is for other parameters"
        odd = [k for k in own if k != "params" and not _same_kind(group[k], own[k])]
        if odd:
            return f"optimizer {name!r} setting {odd[0]} is {group[odd[0]]!r}"
        # Switches (amsgrad, centered, fused, capturable, foreach...) choose the algorithm and
        # the state slots it keeps: a saved switch other than this run's fails inside torch's
        # step (a missing max_exp_avg_sq, a fused kernel's TypeError), so it must be the same.
        switched = [
            k for k in own
            if (own[k] is None or isinstance(own[k], bool))
            and (type(group[k]) is not type(own[k]) or group[k] != own[k])
        ]  # fmt: skip
        if switched:
            k = switched[0]
            return f"optimizer {name!r} setting {k} is {group[k]!r}, this run's is {own[k]!r}"
    params = {  # index in the state_dict -> parameter
        index: param
        for own, group in zip(live, optimizer.param_groups, strict=True)
        for index, param in zip(own["params"], group["params"], strict=True)
    }
    slots = expected_slots(optimizer)
    found: dict[int, set[str]] = {}
    if not isinstance(scalars, dict):
        return f"optimizer {name!r} scalars must be a table"
    for key, values in scalars.items():
        index = _index(key)
        if index not in params or not isinstance(values, dict):
            return f"optimizer {name!r} has scalars for unknown parameter {key!r}"
        for slot, value in values.items():
            if slots.get(slot, False) is not None or not (value is None or _is_number(value)):
                return f"optimizer {name!r} parameter {index} has an unexpected slot {slot!r}"
            found.setdefault(index, set()).add(slot)
    for key, value in tensors.items():
        head, _, slot = key.partition(".")
        index = _index(head)
        if index not in params or not slots.get(slot):
            return f"tensor optim.{name}.{key} is no slot of this run's {type(optimizer).__name__}"
        param_shaped, dtype = slots[slot]
        shape = params[index].shape if param_shaped else torch.Size([])
        dtype = params[index].dtype if param_shaped else dtype
        if value.shape != shape or value.dtype != dtype:
            return (
                f"tensor optim.{name}.{key} is {value.dtype} {tuple(value.shape)}, "
                f"its parameter needs {dtype} {tuple(shape)}"
            )
        found.setdefault(index, set()).add(slot)
    for index, present in sorted(found.items()):
        if present != set(slots):
            lacking = sorted(set(slots) - present)
            return f"optimizer {name!r} parameter {index} lacks its {', '.join(lacking)} state"
    return None
