"""What a modality is: the contract between a kind of data and the modality-free core.

The core (trainer, run directories, latent tools, CLI verbs) never looks inside a row of data.
Everything that knows what a row *is* -- pixels in [0, 255], or melody tokens -- lives in one
`Modality`: how names become datasets, what a dataset tells the model config, how raw rows
become ``(inputs, target)`` pairs, how outputs are scored against baselines, written to files,
and how a user's file is read and checked. (minGPT works the same way: its datasets hand
`vocab_size` to the model config, and its trainer only moves batches.)

Tasks, as the trainer sees them (training/trainer.py):

    raw = rows[index]                          # (B, ...) as the dataset stores them, on device
    inputs, target = prepared(raw, generator)  # prepared = prepared_task(task, train_config)

`prepared_task` is the one rule: a task with a ``prepare(raw, train)`` method gets its raw rows
turned into the batch it takes by that method; a plain callable ``(batch, generator)`` (the
Python API's `identity`, or a hand-written task) gets the default modality's preparation, which
for images is what aekit did before modalities existed (uint8 -> float in [0, 1]).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:  # annotations only: importing torch here would make `aekit --help` slow
    import numpy as np
    import torch

    from aekit.config import DataConfig
    from aekit.training.config import TrainConfig

Task = Callable[["torch.Tensor", "torch.Generator"], tuple["torch.Tensor", "torch.Tensor"]]
Baseline = Callable[["torch.Tensor"], "torch.Tensor"]  # a task input batch -> an output batch


def identity(batch: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Reconstruct the input itself: the plain autoencoder, in any modality."""
    return batch, batch


@dataclass(frozen=True)
class DatasetInfo:
    """One row of `aekit datasets`: what a name means and whether it is available here."""

    name: str
    description: str
    found: str | None  # where it is available without downloading, or None
    how_to_get: str


@dataclass(frozen=True)
class MetricSet:
    """A modality's per-row metrics and how to print them (`aekit eval`, `aekit report`)."""

    names: tuple[str, ...]  # in table order
    score: Callable[[Any, Any], dict[str, Any]]  # (output, target) -> name -> (B,) tensor
    higher_is_better: frozenset[str] = frozenset()
    units: Mapping[str, str] = field(default_factory=dict)  # e.g. psnr -> "dB"
    # The metric a drop on other data than the run's own is told in ("data specificity").
    specificity: str = ""

    def format(self, name: str, value: float | None) -> str:
        if value is None:
            return "-"
        unit = self.units.get(name)
        return f"{value:.2f} {unit}" if unit else f"{value:.4f}"

    def better(self, name: str) -> str:
        return "higher" if name in self.higher_is_better else "lower"


class MetricMeans:
    """Running per-row sums of metric values; `means()` averages over every row seen."""

    def __init__(self) -> None:
        self.sums: dict[str, float] = {}
        self.count = 0

    def add(self, values: Mapping[str, Any]) -> None:
        """`values`: metric name -> (B,) tensor of per-row values."""
        for key, per_row in values.items():
            self.sums[key] = self.sums.get(key, 0.0) + float(per_row.double().sum())
        self.count += next(iter(values.values())).shape[0]

    def means(self) -> dict[str, float]:
        return {k: v / self.count if self.count else math.nan for k, v in self.sums.items()}


class Modality(Protocol):
    """Everything the core asks of a kind of data. One instance per modality, registered by
    name in `aekit.modalities.MODALITIES`; a run records the name (`RunConfig.modality`)."""

    name: str  # the registry key, recorded in every run's config.json
    file_kinds: str  # what `read_file` takes, for messages and help: "PNG or JPEG images"
    # How its files are told apart (`aekit.modalities.file_modality`), so a file of another
    # modality is refused by name (a MIDI file given to an image model): first bytes, suffixes
    file_magic: tuple[bytes, ...]
    file_suffixes: tuple[str, ...]
    output_suffix: str  # what `write_outputs` writes: ".png"
    metrics: MetricSet

    # -- data ---------------------------------------------------------------------------------
    def claims(self, data_name: str) -> bool:
        """Whether a dataset name (a built-in name, a prefix form, a path) is this modality's."""

    def list_datasets(self, data_dir: str | Path | None = None) -> list[DatasetInfo]: ...

    def load_dataset(self, name: str, **options: Any) -> Any:
        """A dataset with ``train``, ``val``, ``test`` splits (each with ``rows``, ``labels``,
        ``noun``), ``name`` and ``classes``."""

    def load(self, data: DataConfig) -> Any:
        """The dataset a run's `DataConfig` names."""

    def data_shape(self, dataset: Any) -> tuple[int, ...]:
        """The shape of one raw row: what `model_fields` and `check_model` are given."""

    def prepare(self, raw: torch.Tensor, train: TrainConfig | None = None) -> torch.Tensor:
        """Raw rows (as stored, on the training device) -> the batch tasks and models take."""

    # -- tasks and models ---------------------------------------------------------------------
    def default_task(self) -> dict[str, Any]:
        """The task table a new run config starts from (every key, so `--set task.x` works)."""

    def task_table(self, table: Mapping[str, Any], where: str = "task") -> dict[str, Any]:
        """`table` checked (unknown keys, types, values: one AekitError line naming `where`)
        and completed with the defaults."""

    def build_task(self, table: Mapping[str, Any]) -> Any:
        """The task a table names (checked first); it has ``config`` and ``prepare``."""

    def evaluation_task(self, table: Mapping[str, Any]) -> Any:
        """The task `aekit eval` scores a run trained with `table` on: images keep theirs (a
        denoiser is scored on noisy inputs); melodies drop the training-only transposition."""

    def model_fields(self, task: Any, data_shape: Sequence[int]) -> dict[str, Any]:
        """What the data gives the model config: images give image_shape (what the task makes
        of them); token sequences give vocab_size and seq_len. (num_classes comes from the
        labels, the same for every modality: aekit.runs.build_for_data.)"""

    def check_model(self, model: Any, task: Any, data_shape: Sequence[int], name: str) -> None:
        """Refuse, in one line, a model whose output is not the task's target."""

    def check_input(self, model: Any, task: Any, data_shape: Sequence[int]) -> None:
        """Refuse, in one line, rows whose task input the model was not built for."""

    # -- results ------------------------------------------------------------------------------
    def baselines(
        self, model: Any, dataset: Any, task: Any, seed: int = 0
    ) -> tuple[dict[str, Baseline], list[str]]:
        """Classical baselines for the task, with notes on how they were fitted."""

    def evaluate_more(
        self, model: Any, dataset: Any, split: str, rows: np.ndarray, baselines: dict[str, Any],
        task: Any = None,
    ) -> Any | None:  # fmt: skip
        """What this modality measures beyond per-row metric means (melodies: free running,
        the code, samples, interpolation; images: super-resolution per kernel, a denoiser at
        fixed noise levels), as an object with ``table()`` and ``to_dict()``; None when there is
        nothing more. `baselines` are the fitted ones, to be reused; `task` is the run's
        evaluation task (None: the default)."""

    def reconstruct(self, model: Any, rows: np.ndarray, labels: np.ndarray | None = None) -> Any:
        """The model applied to raw rows, as `write_outputs` takes them."""

    def read_file(self, path: Path, model: Any, resize: bool) -> np.ndarray:
        """A user's file as one raw row for `model`, checked (`resize`: fit it instead)."""

    def write_outputs(self, paths: Sequence[Path], outputs: Any) -> str:
        """Write one file per output row; returns what was written, for the user."""

    def picture(
        self, model: Any, task: Any, rows: np.ndarray, labels: np.ndarray | None = None
    ) -> tuple[str, np.ndarray]:
        """What the model makes of a few raw rows, as (name, (H, W, 3) uint8 image): the
        picture `--log` trackers show after every epoch (images: inputs, outputs and targets
        of the task; melodies: piano rolls). Deterministic and without side effects: the model
        is left in the mode it was in, and no global random generator is drawn from."""


def prepared_task(
    task: Task, train: TrainConfig | None = None, modality: Modality | None = None
) -> Task:
    """`task` as it is called on raw rows: ``prepared(raw, generator) -> (inputs, target)``.

    A task with ``prepare(raw, train)`` (every task a modality builds) prepares its own rows; a
    plain callable gets `modality`'s preparation, by default the default modality's (images:
    float in [0, 1], what plain tasks were given before there were modalities)."""
    prepare = getattr(task, "prepare", None)
    if prepare is None and modality is not None:
        prepare = modality.prepare
    if prepare is None:
        from aekit.modalities import DEFAULT_MODALITY, get_modality

        prepare = get_modality(DEFAULT_MODALITY).prepare

    def prepared(raw: torch.Tensor, generator: torch.Generator):
        return task(prepare(raw, train), generator)

    return prepared


def task_name(task: Any) -> str:
    """The name a task is recorded under: its config's, else its function name."""
    config = getattr(task, "config", None)
    return config.name if config is not None else getattr(task, "__name__", "custom")
