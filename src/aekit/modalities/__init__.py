"""Modalities: what a kind of data (images; token sequences next) brings to the core.

`base.py` says what a modality implements; this module is the registry. A modality registers
here by one line, name -> "module:attribute", and is imported on first use, so `import aekit`
and `aekit --help` stay cheap and no modality's imports can reach back into the core.

    images = get_modality("images")        # the image modality (aekit.modalities.images)
    dataset = images.load_dataset("digits")
    task = images.build_task({"name": "denoise"})
"""

from __future__ import annotations

import difflib
from dataclasses import replace
from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING

from aekit.errors import AekitError
from aekit.modalities.base import (
    Baseline,
    DatasetInfo,
    MetricSet,
    Modality,
    Task,
    identity,
    prepared_task,
    task_name,
)

if TYPE_CHECKING:
    from aekit.config import RunConfig

# name -> "module:attribute" of the Modality instance. Adding a modality is a new package under
# aekit/modalities/ and one line here.
MODALITIES: dict[str, str] = {
    "images": "aekit.modalities.images:IMAGES",
    "melody": "aekit.modalities.melody.modality:MELODY",
}
# Runs written before modalities existed, and plain tasks handed to the Python API, are images.
DEFAULT_MODALITY = "images"

__all__ = [
    "DEFAULT_MODALITY", "MODALITIES", "Baseline", "DatasetInfo", "MetricSet", "Modality", "Task",
    "check_file_for", "check_run_config", "file_modality", "get_modality", "identity",
    "prepared_task", "task_name",
]  # fmt: skip


def get_modality(name: str) -> Modality:
    """The registered modality called `name`, or one AekitError line listing the known ones."""
    where = MODALITIES.get(name) if isinstance(name, str) else None
    if where is None:
        close = difflib.get_close_matches(str(name), MODALITIES, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise AekitError(f"unknown modality {name!r}{hint}; known: {', '.join(MODALITIES)}")
    module, attribute = where.split(":")
    return getattr(import_module(module), attribute)


def check_run_config(config: RunConfig, where: str = "run") -> RunConfig:
    """`config` with its task table checked and completed by the run's modality, so a bad
    config.json is refused when the run is opened, naming the key (``run.task.scale``)."""
    modality = get_modality(config.modality)
    return replace(config, task=modality.task_table(config.task, where=f"{where}.task"))


def file_modality(path: str | Path) -> str | None:
    """The registered modality whose files `path` looks like: by its first bytes, else by its
    suffix; None when no modality knows it, or it cannot be read (its reader then says why)."""
    try:
        with open(path, "rb") as f:
            head = f.read(16)
    except OSError:
        return None
    modalities = [get_modality(name) for name in MODALITIES]
    for modality in modalities:
        if head.startswith(modality.file_magic):
            return modality.name
    suffix = Path(path).suffix.lower()
    return next((m.name for m in modalities if suffix in m.file_suffixes), None)


def check_file_for(path: str | Path, modality: str, model: str) -> None:
    """Refuse, in one line, a user's file of another modality than the model's (a MIDI file
    given to an image model, an image to a melody model), before any reader fails on it."""
    other = file_modality(path)
    if other is not None and other != modality:
        raise AekitError(
            f"{path} holds {other} data ({get_modality(other).file_kinds}), but the run's "
            f"model {model} takes {get_modality(modality).file_kinds}"
        )
