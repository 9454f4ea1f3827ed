"""Typed configs: dataclasses in, JSON/TOML files and dotted ``--set`` overrides on top.

Every component owns its defaults in a dataclass (DESIGN.md principles 1-2). This module only
converts: plain data -> dataclass with strict checking (unknown keys and wrong types fail with the
key's full dotted name), dataclass -> JSON-ready dict, and ``key.sub=value`` overrides, whose
values are parsed as JSON when they can be (``8``, ``1e-3``, ``[16, 8]``, ``null``, ``true``)
and taken as plain strings otherwise.

    from_dict(TrainConfig, {"epochs": 3})        # TrainConfig(epochs=3, ...)
    apply_overrides(cfg, ["train.lr=1e-3"])       # new dict with the value checked later
"""

from __future__ import annotations

import dataclasses
import json
import sys
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar, Union

from aekit.errors import AekitError
from aekit.training.config import TrainConfig

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

T = TypeVar("T")


def to_dict(obj: Any) -> Any:
    """A dataclass (possibly nested) as JSON-ready plain data; tuples become lists."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, (list, tuple)):
        return [to_dict(v) for v in obj]
    if isinstance(obj, dict):
        return {k: to_dict(v) for k, v in obj.items()}
    return obj


def from_dict(cls: type[T], data: Any, where: str = "config") -> T:
    """Build dataclass `cls` from plain data, refusing unknown keys and values of the wrong type."""
    if isinstance(data, cls):
        return data
    if not isinstance(data, dict):
        raise AekitError(f"{where} must be a table of keys, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(data) - known)
    if unknown:
        key = unknown[0] if unknown[0].isidentifier() else repr(unknown[0])  # "\n" stays one line
        raise AekitError(f"unknown key {where}.{key}; {where} takes: {', '.join(sorted(known))}")
    values = {k: coerce(v, hints[k], f"{where}.{k}") for k, v in data.items()}
    return cls(**values)


def coerce(value: Any, hint: Any, where: str) -> Any:
    """Check `value` against type `hint`, converting only where it is lossless (int -> float)."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in (a for a in args if a is not type(None)):
            try:
                return coerce(value, arg, where)
            except AekitError as exc:
                errors.append(str(exc))
        raise AekitError(errors[0] if len(errors) == 1 else f"{where}: {value!r} fits no {hint}")
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise AekitError(f"{where} must be a list, got {value!r}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(coerce(v, args[0], f"{where}[{i}]") for i, v in enumerate(value))
        if len(value) != len(args):
            raise AekitError(f"{where} must have {len(args)} items, got {list(value)}")
        pairs = enumerate(zip(value, args, strict=True))
        return tuple(coerce(v, a, f"{where}[{i}]") for i, (v, a) in pairs)
    if dataclasses.is_dataclass(hint):
        return from_dict(hint, value, where)
    if hint is Any:
        return value
    if hint is bool:
        if isinstance(value, bool):
            return value
        raise AekitError(f"{where} must be true or false, got {value!r}")
    if hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise AekitError(f"{where} must be an integer, got {value!r}")
    if hint is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            try:
                return float(value)
            except OverflowError:  # an integer beyond 1.8e308
                raise AekitError(f"{where} is too large for a number: {value!r}") from None
        raise AekitError(f"{where} must be a number, got {value!r}")
    if hint is str:
        if isinstance(value, str):
            return value
        raise AekitError(f"{where} must be a string, got {value!r}")
    if origin is dict or hint is dict:
        if isinstance(value, dict):
            return value
        raise AekitError(f"{where} must be a table, got {value!r}")
    raise TypeError(f"config type {hint} at {where} is not supported")  # a programming error


def parse_override(text: str) -> tuple[list[str], Any]:
    """``"train.lr=1e-3"`` -> (["train", "lr"], 0.001)."""
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key or any(not part for part in key.split(".")):
        raise AekitError(f"--set takes key=value with a dotted key, got {text!r}")
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError):  # also: nested too deeply, an integer of 4301+ digits
        value = raw  # a bare word such as `lesson` or `cosine`; checked against its type later
    if nesting(value) > MAX_NESTING:
        raise AekitError(f"--set {key!r}: the value nests more than {MAX_NESTING} lists deep")
    return key.split("."), value


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Return a copy of nested plain `data` with each ``a.b=value`` applied.

    Keys must already exist (so a typo fails here with the known keys listed); types are checked
    when the result is turned back into dataclasses with `from_dict`.
    """
    result = json.loads(json.dumps(data))
    for text in overrides:
        path, value = parse_override(text)
        node = result
        for depth, part in enumerate(path):
            where = ".".join(path[: depth + 1])
            if not isinstance(node, dict) or part not in node:
                known = ", ".join(sorted(node)) if isinstance(node, dict) else "nothing"
                raise AekitError(f"--set: unknown key {where!r}; known here: {known}")
            if depth == len(path) - 1:
                node[part] = value
            else:
                node = node[part]
    return result


def load_config_file(path: str | Path) -> dict[str, Any]:
    """Read a JSON or TOML file (by extension) into plain data."""
    path = Path(path)
    if not path.is_file():
        raise AekitError(f"config file {str(path)!r} does not exist")
    try:
        text = path.read_text(encoding="utf-8")
        if path.suffix.lower() == ".toml":
            data = tomllib.loads(text)
        elif path.suffix.lower() == ".json":
            data = json.loads(text)
        else:
            raise AekitError(f"config file {str(path)!r} must end in .json or .toml")
    except RecursionError:
        raise AekitError(
            f"config file {str(path)!r} nests its lists or tables too deeply to be a config"
        ) from None
    except ValueError as exc:  # bad UTF-8, JSON or TOML, or an integer of 4301+ digits
        raise AekitError(f"config file {str(path)!r} is not valid: {exc}") from None
    if not isinstance(data, dict):
        raise AekitError(f"config file {str(path)!r} must hold a table of keys")
    if nesting(data) > MAX_NESTING:
        raise AekitError(
            f"config file {str(path)!r} nests lists or tables more than {MAX_NESTING} deep; "
            "a config is a few tables of settings"
        )
    for key, value in leaves(data):
        if not isinstance(value, (str, int, float, bool, type(None))):  # TOML dates and times
            raise AekitError(
                f"config file {str(path)!r}: {key!r} is a {type(value).__name__}, which no "
                "setting takes; write it as a string or number"
            )
    return data


# A run's config nests 3 deep (run.model.channels[0]); parsers and copies recurse, so anything
# much deeper is refused before it can exhaust the stack.
MAX_NESTING = 32


def leaves(data: Any, where: str = "") -> list[tuple[str, Any]]:
    """(dotted key, value) of every scalar in plain data, without recursing."""
    found, stack = [], [(where, data)]
    while stack:
        key, node = stack.pop()
        if isinstance(node, dict):
            stack.extend((f"{key}.{k}" if key else str(k), v) for k, v in node.items())
        elif isinstance(node, (list, tuple)):
            stack.extend((f"{key}[{i}]", v) for i, v in enumerate(node))
        else:
            found.append((key, node))
    return found


def nesting(data: Any) -> int:
    """How deep lists and dicts nest in plain data (a scalar is 0), without recursing."""
    deepest, stack = 0, [(data, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            node = list(node.values())
        if isinstance(node, (list, tuple)):
            deepest = max(deepest, depth + 1)
            stack.extend((child, depth + 1) for child in node)
    return deepest


def deep_merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """`base` with `extra`'s keys laid over it, recursing into tables."""
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


# --- the run: everything needed to rebuild a model and repeat its training -------------------


@dataclass
class DataConfig:
    name: str = "fashion-mnist"  # a named set, folder:PATH, or a .npz file
    data_dir: str | None = None  # where to look first (else AEKIT_DATA, cache, system copies)
    val_fraction: float = 0.1  # share of the training split held out for validation
    limit: int | None = None  # use at most this many training images (quick runs)
    image_size: int | None = None  # resize folder images to this square size
    seed: int = 0  # the validation split's seed: fixed per run, independent of training seed


@dataclass
class RunConfig:
    model_name: str = "conv-ae"  # a key of aekit.models.MODELS
    model: dict[str, Any] = field(default_factory=dict)  # that model's config, checked by it
    # A key of aekit.modalities.MODALITIES: what kind of data the run learns from, so every
    # command reads, scores and writes it the same way. Runs from before modalities: images.
    modality: str = "images"
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    # The modality's task table (images: name, noise, scale, ...), checked by the modality the
    # way `model` is checked by the model: config.py knows no modality. Empty: its defaults.
    task: dict[str, Any] = field(default_factory=dict)
    aekit_version: str = ""  # the version that wrote this config

    def __post_init__(self) -> None:
        # A typed task config from Python (RunConfig(task=TaskConfig(...))) is kept as its
        # table, so config.json and --set overrides see one plain shape.
        if dataclasses.is_dataclass(self.task) and not isinstance(self.task, type):
            self.task = to_dict(self.task)
