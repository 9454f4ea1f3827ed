"""The melody modality wired into the core: registry, `aekit datasets`, train/eval/resume."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from aekit.datasets import modality_of
from aekit.errors import AekitError
from aekit.modalities import MODALITIES, get_modality
from aekit.training import checkpoint as ckpt
from tests.melody.synth import midi_bytes, scale_notes
from tests.test_cli import requeued_job_continues

TRAIN = ("--preset", "tiny", "--threads", "1", "--no-progress")


@pytest.fixture
def tunes(tmp_path: Path) -> str:
    """Six 4-bar tunes: a few windows each, enough for three splits by tune."""
    folder = tmp_path / "tunes"
    folder.mkdir()
    for i in range(6):
        (folder / f"t{i}.mid").write_bytes(midi_bytes(scale_notes(bars=4, start_pitch=55 + 2 * i)))
    return f"midi:{folder}"


def test_registry_finds_melody_and_its_names() -> None:
    assert "melody" in MODALITIES
    melody = get_modality("melody")
    assert melody.name == "melody"
    for name in ("folk-melodies", "midi:some/dir", "abc:tunes.abc", "tunes.abc", "a.mid"):
        assert modality_of(name) == "melody", name
    assert modality_of("digits") == "images"


def test_dataset_splits_look_like_image_splits(tunes: str) -> None:
    melody = get_modality("melody")
    data = melody.load_dataset(tunes, seed=0)
    assert data.train.rows.shape[1:] == (32,) and data.train.rows.dtype == np.uint8
    assert data.train.labels is None and data.train.noun == "windows"
    assert melody.data_shape(data) == (32,)
    assert melody.model_fields(None, (32,)) == {"vocab_size": 90, "seq_len": 32}


def test_task_table_is_checked_and_tasks_prepare_long_tokens() -> None:
    melody = get_modality("melody")
    assert melody.default_task() == {"name": "transpose", "max_semitones": 5}
    with pytest.raises(AekitError, match="task.name must be one of transpose, identity"):
        melody.task_table({"name": "denoise"})
    with pytest.raises(AekitError, match="unknown task key"):
        melody.task_table({"scale": 2})
    task = melody.build_task({"name": "identity"})
    raw = torch.tensor([[60, 1, 0] * 10 + [60, 1]], dtype=torch.uint8)
    inputs, target = task(task.prepare(raw), torch.Generator().manual_seed(0))
    assert inputs.dtype == torch.long and torch.equal(target, raw.long())


def test_datasets_lists_folk_melodies(run_cli) -> None:
    code, out, err = run_cli("datasets")
    assert code == 0, err
    assert "folk-melodies" in out


def test_train_and_eval_through_the_cli(tunes: str, tmp_path: Path, run_cli) -> None:
    run = tmp_path / "run"
    code, _, err = run_cli(
        "train", "melody-vae", "--data", tunes, "--out", run, *TRAIN, "--epochs", "1"
    )
    assert code == 0, err
    config = ckpt.read_run_config(run)
    assert config.modality == "melody" and config.task["name"] == "transpose"
    assert config.model["vocab_size"] == 90 and config.model["seq_len"] == 32

    code, out, err = run_cli("eval", run)
    assert code == 0, err
    assert "test split" in out and " windows), code dimension" in out  # scored as they are
    assert any(line.startswith("token_accuracy") for line in out.splitlines()), out
    assert "majority token" in out and "repeat bar 1" in out and "4-gram" in out


def test_a_killed_run_resumed_by_the_same_command_is_bitwise_the_whole_run(
    tunes: str, tmp_path: Path, run_cli, monkeypatch
) -> None:
    """Killed right after epoch 1's checkpoint, the same command with --resume finishes a run
    bitwise equal to one never stopped (the transposition draws included)."""

    def command(out: Path) -> list[str]:
        return ["train", "melody-vae", "--data", tunes, "--out", str(out), *TRAIN, "--epochs", "2",
                "--resume"]  # fmt: skip

    requeued_job_continues(command, tmp_path, run_cli, monkeypatch)


def test_other_modalities_data_is_one_line(tunes: str, tmp_path: Path, run_cli) -> None:
    code, _, err = run_cli("train", "ae", "--data", tunes, "--out", tmp_path / "a", *TRAIN[2:])
    assert code == 2 and "is melody data, but this run's model learns from images" in err
    code, _, err = run_cli("train", "melody-vae", "--data", "digits", "--out", tmp_path / "b",
                           *TRAIN)  # fmt: skip
    assert code == 2 and "'digits' is images data" in err
    code, _, err = run_cli("train", "melody-vae", "--data", tunes, "--out", tmp_path / "c",
                           "--set", "task.scale=2", *TRAIN)  # fmt: skip
    assert code == 2 and "unknown key 'task.scale'" in err


def test_folk_melodies_is_listed_as_found_when_only_its_corpus_is_there(tmp_path, monkeypatch):
    from aekit.modalities.melody import corpus
    from aekit.modalities.melody.modality import MELODY

    monkeypatch.setenv("AEKIT_DATA", str(tmp_path))  # no cache built here
    monkeypatch.setattr(corpus, "corpus_dir", lambda: tmp_path / "corpus")
    (info,) = MELODY.list_datasets()
    assert (
        info.found
        == f"{tmp_path / 'corpus'} (converted into {tmp_path / corpus.NAME} on first use)"
    )

    def no_corpus():
        raise AekitError("music21 is not installed")

    monkeypatch.setattr(corpus, "corpus_dir", no_corpus)
    (info,) = MELODY.list_datasets()
    assert info.found is None and "pip install --no-deps music21" in info.how_to_get
