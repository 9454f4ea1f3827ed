"""The melody modality: (32,) uint8 token windows, MIDI files, token metrics, melody baselines.

Everything the core asks of melodies goes through `MELODY` (aekit.modalities.base.Modality); the
pieces live beside it: dataset.py (sources, splits by tune, the transposition task), midi.py,
metrics.py and baselines.py. The core reads splits as ``rows``/``labels``/``noun`` (what the
image splits expose), so `MelodySplitView` presents a `MelodySplit` that way without copying.
Heavy imports (torch, mido) happen inside the methods, so `aekit datasets` stays cheap.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from aekit.config import to_dict
from aekit.errors import AekitError
from aekit.modalities.base import Baseline, DatasetInfo, MetricSet

if TYPE_CHECKING:
    import torch

    from aekit.config import DataConfig
    from aekit.training.config import TrainConfig

NAME = "folk-melodies"
TASKS = ("transpose", "identity")
PICTURE_WINDOWS = 4  # piano rolls per tracking picture: 8 rolls stacked stay readable


@dataclass(frozen=True)
class MelodyTaskConfig:
    """`--set task.name=transpose|identity`, `task.max_semitones` (transpose only)."""

    name: str = "transpose"
    max_semitones: int = 5  # MusicVAE's augmentation range (dataset.MAX_SEMITONES)


def task_config(table: Mapping[str, Any], where: str = "task") -> MelodyTaskConfig:
    known = {f.name for f in fields(MelodyTaskConfig)}
    unknown = sorted(set(table) - known)
    if unknown:
        raise AekitError(f"unknown {where} key(s) {unknown} for melody; known: {sorted(known)}")
    config = MelodyTaskConfig(**table)
    if config.name not in TASKS:
        raise AekitError(f"{where}.name must be one of {', '.join(TASKS)}, got {config.name!r}")
    m = config.max_semitones
    if isinstance(m, bool) or not isinstance(m, int) or not 0 <= m <= 12:
        raise AekitError(f"{where}.max_semitones must be an integer 0..12, got {m!r}")
    return config


class MelodyTask:
    """A dataset task with the `config` and `prepare` the trainer and run files expect."""

    def __init__(self, config: MelodyTaskConfig) -> None:
        from aekit.modalities.melody.dataset import TokenIdentityTask, TransposeTask

        self.config = config
        self._task = (
            TransposeTask(config.max_semitones)
            if config.name == "transpose"
            else TokenIdentityTask()
        )

    def prepare(self, raw: torch.Tensor, train: TrainConfig | None = None) -> torch.Tensor:
        return raw.long()

    def __call__(self, tokens: torch.Tensor, generator: torch.Generator):
        return self._task(tokens, generator)


@dataclass(frozen=True)
class MelodySplitView:
    """A `MelodySplit` as the core reads splits: rows, no labels, counted in windows."""

    split: Any
    noun = "windows"

    @property
    def rows(self) -> np.ndarray:
        return self.split.tokens

    @property
    def labels(self) -> None:
        return None

    def __len__(self) -> int:
        return len(self.split)


@dataclass(frozen=True)
class MelodyDataset:
    """`MelodyData` with its splits as `MelodySplitView`s; `data` keeps everything else."""

    data: Any
    classes: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return self.data.name

    @property
    def train(self) -> MelodySplitView:
        return MelodySplitView(self.data.train)

    @property
    def val(self) -> MelodySplitView:
        return MelodySplitView(self.data.val)

    @property
    def test(self) -> MelodySplitView:
        return MelodySplitView(self.data.test)


def _predicted(output: Any) -> Any:
    """Token ids from what a model gives: ids as they are, probabilities/logits by argmax."""
    return output.argmax(-1) if output.is_floating_point() and output.dim() == 3 else output


def token_scores(output: Any, target: Any) -> dict[str, Any]:
    """Per-window share of the 32 steps whose token is right: name -> (B,) tensor."""
    predicted = _predicted(output).long()
    return {"token_accuracy": (predicted == target.long()).double().mean(dim=1)}


class MelodyModality:
    name = "melody"
    file_kinds = "MIDI files"
    file_magic = (b"MThd",)  # a standard MIDI file's header chunk
    file_suffixes = (".mid", ".midi")
    output_suffix = ".mid"

    @property
    def metrics(self) -> MetricSet:
        return MetricSet(
            names=("token_accuracy",), score=token_scores,
            higher_is_better=frozenset({"token_accuracy"}), specificity="token_accuracy",
        )  # fmt: skip

    # -- data ---------------------------------------------------------------------------------

    def claims(self, data_name: str) -> bool:
        lower = data_name.lower()
        return (
            data_name == NAME
            or data_name.startswith(("midi:", "abc:"))
            or lower.endswith((".abc", ".mid", ".midi"))
        )

    def list_datasets(self, data_dir: str | Path | None = None) -> list[DatasetInfo]:
        from aekit.errors import AekitError
        from aekit.modalities.melody.corpus import cache_dir, corpus_dir

        cached = cache_dir()
        found = str(cached) if cached.exists() else None
        if found is None:  # not built yet: found all the same when the corpus is there to build
            try:
                found = f"{corpus_dir()} (converted into {cached} on first use)"
            except AekitError:
                found = None
        return [
            DatasetInfo(
                name=NAME,
                description="2-bar folk melody windows from music21's ABC corpus (melody)",
                found=found,
                how_to_get="pip install --no-deps music21 (its wheel ships the ABC corpus)",
            )
        ]

    def load_dataset(self, name: str, **options: Any) -> MelodyDataset:
        from aekit.modalities.melody.dataset import load_melodies

        if name.lower().endswith((".mid", ".midi")) and not name.startswith("midi:"):
            name = f"midi:{name}"
        return MelodyDataset(load_melodies(name, **options))

    def load(self, data: DataConfig) -> MelodyDataset:
        return self.load_dataset(data.name, seed=data.seed, val_fraction=data.val_fraction)

    def data_shape(self, dataset: Any) -> tuple[int, ...]:
        return (int(dataset.train.rows.shape[1]),)

    def prepare(self, raw: torch.Tensor, train: TrainConfig | None = None) -> torch.Tensor:
        return raw.long()

    # -- tasks and models ---------------------------------------------------------------------

    def default_task(self) -> dict[str, Any]:
        return to_dict(MelodyTaskConfig())

    def task_table(self, table: Mapping[str, Any], where: str = "task") -> dict[str, Any]:
        return to_dict(task_config(dict(table), where=where))

    def build_task(self, table: Mapping[str, Any]) -> MelodyTask:
        return MelodyTask(task_config(dict(table), where="run.task"))

    def evaluation_task(self, table: Mapping[str, Any]) -> MelodyTask:
        """The windows as they are: transposition is a training augmentation, and a random
        shift at test time would make the nearest-window baseline look worse than it is."""
        return self.build_task({**task_config(dict(table), where="run.task").__dict__,
                                "name": "identity"})  # fmt: skip

    def model_fields(self, task: Any, data_shape: Sequence[int]) -> dict[str, Any]:
        from aekit.modalities.melody.tokens import VOCAB

        return {"vocab_size": VOCAB, "seq_len": int(data_shape[0])}

    def check_model(self, model: Any, task: Any, data_shape: Sequence[int], name: str) -> None:
        from aekit.modalities.melody.tokens import VOCAB

        vocab = getattr(getattr(model, "config", None), "vocab_size", None)
        if tuple(model.output_shape) != tuple(data_shape) or vocab != VOCAB:
            raise AekitError(
                f"model {name!r} gives {model.output_shape} outputs over {vocab} tokens, but "
                f"melody windows need {tuple(data_shape)} over {VOCAB}; use melody-vae"
            )

    def check_input(self, model: Any, task: Any, data_shape: Sequence[int]) -> None:
        if tuple(data_shape) != (model.config.seq_len,):
            raise AekitError(
                f"rows of shape {tuple(data_shape)} do not fit the model's "
                f"({model.config.seq_len},) token windows"
            )

    # -- results ------------------------------------------------------------------------------

    def baselines(
        self, model: Any, dataset: Any, task: Any, seed: int = 0
    ) -> tuple[dict[str, Baseline], list[str]]:
        import torch

        from aekit.modalities.melody import baselines as b

        train = np.asarray(dataset.train.rows)

        def numpy_baseline(fn):
            return lambda x: torch.from_numpy(fn(x.cpu().numpy()).astype(np.int64)).to(x.device)

        ngram = b.NGram().fit(train)  # teacher-forced, as the model's own scores are
        found = {
            "majority token": numpy_baseline(lambda x: b.majority_predict(train, x)),
            f"{ngram.order}-gram": numpy_baseline(ngram.predict),
            "repeat bar 1": numpy_baseline(b.repeat_bar_one),
            "nearest training window": numpy_baseline(lambda x: b.nearest_window(train, x)),
        }
        return found, [f"baselines fitted on {len(train)} training windows"]

    def evaluate_more(
        self, model: Any, dataset: Any, split: str, rows: np.ndarray, baselines: dict[str, Any],
        task: Any = None,
    ) -> Any:  # fmt: skip
        """Free running, onset F1 and unseen windows for the model and every baseline, the
        code's KL and active units, prior samples and interpolation (evaluation.py)."""
        import torch

        from aekit.modalities.melody.evaluation import evaluate_melodies

        if not hasattr(model, "generate"):  # a model of tokens that cannot decode freely
            return None
        tokens = np.asarray(rows)
        x = torch.from_numpy(np.ascontiguousarray(tokens)).long()
        predicted = {name: np.asarray(b(x).cpu().numpy()) for name, b in baselines.items()}
        return evaluate_melodies(
            model, tokens, np.asarray(dataset.train.rows), split=split, baselines=predicted
        )

    def reconstruct(self, model: Any, rows: np.ndarray, labels: np.ndarray | None = None) -> Any:
        """What the model makes of each window on its own: the posterior mean, decoded greedily
        and free-running (inference.py), not the teacher-forced argmax training scores."""
        from aekit.modalities.melody.inference import reconstruct

        return reconstruct(model, rows)

    def read_file(self, path: Path, model: Any, resize: bool) -> np.ndarray:
        """The first 2-bar window of a MIDI file, as (32,) uint8 tokens."""
        from aekit.modalities.melody.midi import read_midi

        windows = read_midi(path).windows()
        if not len(windows):
            raise AekitError(f"{path} has no complete 2-bar window with notes in it")
        return windows[0]

    def write_outputs(self, paths: Sequence[Path], outputs: Any) -> str:
        from aekit.modalities.melody.midi import write_midi

        for path, tokens in zip(paths, outputs, strict=True):
            write_midi(path, np.asarray(tokens))
        return f"{len(paths)} MIDI files"

    def picture(
        self, model: Any, task: Any, rows: np.ndarray, labels: np.ndarray | None = None
    ) -> tuple[str, np.ndarray]:
        """Piano rolls of a few windows, each above its free-running reconstruction (what
        `reconstruct` and the report show), as an RGB image."""
        import io

        from PIL import Image

        from aekit.modalities.melody.inference import reconstruct
        from aekit.modalities.melody.render import piano_roll_png

        windows = np.asarray(rows)[:PICTURE_WINDOWS]
        was_training = model.training
        try:
            rebuilt = reconstruct(model, windows)
        finally:
            model.train(was_training)
        melodies = [m for pair in zip(windows, rebuilt, strict=True) for m in pair]
        names = [name for i in range(len(windows)) for name in (f"window {i}", "rebuilt")]
        png = piano_roll_png(melodies, names, title="windows above their reconstructions")
        with Image.open(io.BytesIO(png)) as image:
            return "reconstructions", np.asarray(image.convert("RGB"))


MELODY = MelodyModality()
