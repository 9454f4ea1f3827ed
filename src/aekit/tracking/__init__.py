"""Experiment tracking: `aekit train ... --log tensorboard|mlflow|none` (repeatable).

A `Tracking` is the trainer's `Tracker` (training/tracking.py): it turns what the trainer hands
it into named scalars and one picture per epoch, and passes them to each backend it was opened
with. The names are the metrics.jsonl keys, so a curve in TensorBoard is a column of that file:

    step/<part>          every loss part of every step (loss, recon, kl, ...), step/lr, and
                         step/images_per_s at each log point (rows per second this epoch so far)
    epoch/<key>          every number of each metrics.jsonl row: epoch/train_loss,
                         epoch/val_loss and the other validation parts, epoch/lr, epoch/seconds,
                         epoch/images_per_s
    <picture name>       what the model makes of a few validation rows after each epoch: an
                         image grid, or piano rolls (drawn by the run's modality, not here)
    hyperparameters      the resolved run config, flattened to dotted keys (train.lr, ...)

The step axis is the global step, counted from 1. A resumed run appends to the same place; what
a killed run logged past its last checkpoint is dropped where the backend can (TensorBoard).
Backends are imported only when named, and a missing one is one line naming its extra.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from importlib import import_module
from pathlib import Path
from typing import Any, Protocol

from aekit.errors import AekitError
from aekit.extras import require

# name -> (module:class of the backend, the module it needs, the extra that installs it)
BACKENDS = {
    "tensorboard": ("aekit.tracking.tensorboard:TensorBoard", "torch.utils.tensorboard", "track"),
    "mlflow": ("aekit.tracking.mlflow:MLflow", "mlflow", "mlflow"),
}
NONE = "none"

# A picture of the model at work: (name, (H, W, 3) uint8 array); made by the run's modality.
Picture = tuple[str, Any]


class Backend(Protocol):
    """Where the numbers go. `start(done, hyperparameters)` opens it (`done`: global steps
    already behind a resumed run), `scalars` and `image` log at a global step, `flush` makes
    what was logged visible, `close(ok)` ends it (ok: the process did not fail)."""

    def start(self, done: int, hyperparameters: Mapping[str, Any]) -> None: ...

    def scalars(self, step: int, values: Mapping[str, float]) -> None: ...

    def image(self, step: int, name: str, image: Any) -> None: ...

    def flush(self) -> None: ...

    def close(self, ok: bool) -> None: ...


def check_names(names: Iterable[str]) -> tuple[str, ...]:
    """`--log` values -> the backends they name, in order, each once; `none` alone is none.
    An unknown name, or `none` beside a backend, is one line; so is a backend whose extra is
    missing (checked here, before any data is loaded)."""
    names = [n.strip().lower() for n in names]
    for name in names:
        if name not in BACKENDS and name != NONE:
            raise AekitError(
                f"--log takes {', '.join(BACKENDS)} or {NONE} (repeat it for several), got {name!r}"
            )
    chosen = tuple(dict.fromkeys(n for n in names if n != NONE))
    if chosen and NONE in names:
        raise AekitError(f"--log {NONE} means no tracking; it cannot go with --log {chosen[0]}")
    for name in chosen:
        _, module, extra = BACKENDS[name]
        require(module, extra, f"--log {name}")
    return chosen


def hyperparameters(config: Mapping[str, Any]) -> dict[str, Any]:
    """A run config's table flattened to dotted keys with plain values: numbers, strings and
    booleans as they are, lists as JSON text, null as "null" (what trackers can compare)."""
    flat: dict[str, Any] = {}

    def walk(table: Mapping[str, Any], prefix: str) -> None:
        for key, value in table.items():
            if isinstance(value, Mapping):
                walk(value, f"{prefix}{key}.")
            elif isinstance(value, (bool, int, float, str)):
                flat[f"{prefix}{key}"] = value
            else:
                flat[f"{prefix}{key}"] = json.dumps(value)

    walk(config, "")
    return flat


class Tracking:
    """The trainer's tracker: names what it is handed and passes it to every backend.

    `picture(model) -> (name, image)` draws the per-epoch picture (the run's modality knows
    how); a failing backend is not caught here, since a run the user asked to track should not
    silently lose its tracking. Use it as a context manager: leaving closes every backend."""

    def __init__(
        self,
        backends: Sequence[Backend],
        config: Mapping[str, Any],
        picture: Callable[[Any], Picture] | None = None,
    ) -> None:
        self.backends = list(backends)
        self.hyperparameters = hyperparameters(config)
        self.picture = picture

    def start(self, done: int) -> None:
        for backend in self.backends:
            backend.start(done, self.hyperparameters)

    def log_step(self, step: int, values: Mapping[str, float]) -> None:
        named = {f"step/{k}": float(v) for k, v in values.items()}
        for backend in self.backends:
            backend.scalars(step, named)

    def log_epoch(self, step: int, row: Mapping[str, Any], model: Any) -> None:
        named = {f"epoch/{k}": float(v) for k, v in row.items() if is_number(v) and k != "epoch"}
        picture = self.picture(model) if self.picture is not None else None
        for backend in self.backends:
            backend.scalars(step, named)
            if picture is not None:
                backend.image(step, *picture)
            backend.flush()  # an epoch is where someone watching expects a new point

    def close(self, ok: bool = True) -> None:
        errors = []
        for backend in self.backends:
            try:
                backend.close(ok)
            except Exception as exc:  # noqa: BLE001  (close the others, then say so)
                errors.append(exc)
        if errors:
            raise errors[0]

    def __enter__(self) -> Tracking:
        return self

    def __exit__(self, kind, value, traceback) -> None:
        self.close(ok=kind is None)


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def open_tracking(
    names: Sequence[str],
    run_dir: str | Path,
    config: Mapping[str, Any],
    picture: Callable[[Any], Picture] | None = None,
) -> Tracking:
    """A `Tracking` logging to each backend `names` names (see `check_names`), each keeping its
    files under `run_dir` (TensorBoard: RUN/tensorboard; MLflow: RUN/mlruns unless
    MLFLOW_TRACKING_URI names another store)."""
    backends = []
    for name in check_names(names):
        where, _, _ = BACKENDS[name]
        module, _, cls = where.partition(":")
        backends.append(getattr(import_module(module), cls)(Path(run_dir)))
    return Tracking(backends, config, picture)


__all__ = ["BACKENDS", "Backend", "Picture", "Tracking", "check_names", "hyperparameters",
           "is_number", "open_tracking"]  # fmt: skip
