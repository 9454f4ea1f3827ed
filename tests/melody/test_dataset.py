"""Loading melody sources, the split by tune, the unseen mask and the transposition task."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from aekit.errors import AekitError
from aekit.modalities.melody.dataset import (
    TokenIdentityTask,
    TransposeTask,
    load_melodies,
    split_by_tune,
    transpose,
    unseen_mask,
)
from aekit.modalities.melody.tokens import HOLD, NOTE_OFF, Note, notes_to_tokens
from tests.melody.synth import PICKUP_ABC, midi_bytes, needs_abc2midi, scale_notes


@pytest.fixture
def midi_dir(tmp_path: Path) -> Path:
    """Four usable tunes, one file that is not MIDI and one melody of a single bar."""
    folder = tmp_path / "tunes"
    (folder / "sub").mkdir(parents=True)
    for i in range(4):
        target = folder / ("sub" if i == 3 else ".") / f"tune{i}.mid"
        target.write_bytes(midi_bytes(scale_notes(bars=4, start_pitch=55 + 3 * i)))
    (folder / "broken.mid").write_bytes(b"MThd not really")
    (folder / "short.midi").write_bytes(midi_bytes(scale_notes(bars=1)))
    (folder / "notes.txt").write_text("not a melody, and not looked at")
    return folder


def test_midi_folder_names_what_it_skipped(midi_dir: Path) -> None:
    data = load_melodies(f"midi:{midi_dir}", seed=0, val_fraction=0.25, test_fraction=0.25)
    assert sorted(data.tune_ids) == ["sub/tune3.mid", "tune0.mid", "tune1.mid", "tune2.mid"]
    assert data.train.tokens.dtype == np.uint8 and data.train.tokens.shape[1] == 32
    assert (len(data.train), len(data.val), len(data.test)) == (6, 3, 3)  # 3 windows a tune
    lines = "\n".join(data.messages)
    assert "skipped 1 of 6 files (not MIDI): broken.mid: not a MIDI file" in lines
    assert "1 of 6 files have no usable 2-bar window: short.midi" in lines
    assert all("\n" not in m for m in data.messages)


def test_split_is_by_tune_and_seeded(midi_dir: Path) -> None:
    def splits(seed: int) -> list[set[int]]:
        d = load_melodies(f"midi:{midi_dir}", seed=seed, val_fraction=0.25, test_fraction=0.25)
        return [set(d.train.tune.tolist()), set(d.val.tune.tolist()), set(d.test.tune.tolist())]

    first = splits(0)
    assert first == splits(0)
    assert not (first[0] & first[1] or first[0] & first[2] or first[1] & first[2])
    assert len(set().union(*first)) == 4
    assert any(splits(seed) != first for seed in range(1, 6))


def test_split_by_tune_keeps_test_tunes_when_val_fraction_changes() -> None:
    tune = np.repeat(np.arange(50, dtype=np.int32), 3)
    _, _, test_a = split_by_tune(tune, 50, 7, 0.1, 0.2)
    _, _, test_b = split_by_tune(tune, 50, 7, 0.3, 0.2)
    assert np.array_equal(test_a, test_b) and len(test_a) == 30


def test_unseen_marks_windows_absent_from_training() -> None:
    train = np.array([[41] * 32, [43] * 32], np.uint8)
    test = np.array([[43] * 32, [45] * 32, [41] * 32], np.uint8)
    assert unseen_mask(test, train).tolist() == [False, True, False]


def test_a_folder_with_nothing_usable_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "a.mid").write_bytes(b"junk")
    with pytest.raises(AekitError, match="none of 1 MIDI files is usable") as caught:
        load_melodies(f"midi:{tmp_path}")
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("name", "match"),
    [("folk-melodys", "did you mean 'folk-melodies'"), ("midi:/no/such/dir", "no such file")],
)
def test_unknown_sources(name: str, match: str) -> None:
    with pytest.raises(AekitError, match=match):
        load_melodies(name)


def test_fractions_must_leave_training_tunes(midi_dir: Path) -> None:
    with pytest.raises(AekitError, match="val_fraction"):
        load_melodies(f"midi:{midi_dir}", val_fraction=0.5, test_fraction=0.5)


@needs_abc2midi
def test_an_abc_file_is_a_source(tmp_path: Path) -> None:
    path = tmp_path / "tunes.abc"
    path.write_text(PICKUP_ABC + "\nX:2\nT:Waltz\nM:3/4\nK:C\nCDE|FGA|\n")
    data = load_melodies(str(path), val_fraction=0.0, test_fraction=0.0)
    assert data.tune_ids == ("tunes.abc#1",) and len(data.train) == 5
    assert any("(meter 3/4): tunes.abc#2: meter 3/4" in m for m in data.messages)


# --- transposition ---------------------------------------------------------------------------


def _window(pitches: list[int]) -> np.ndarray:
    notes = [Note(4 * i, 4 * i + 3, p) for i, p in enumerate(pitches)]
    return notes_to_tokens(notes, 32)


def test_transposition_stays_on_the_piano_and_within_five_semitones() -> None:
    low = _window([21, 23, 24, 26, 28, 29, 31, 33])
    high = _window([100, 101, 103, 105, 107, 108, 107, 105])
    mid = _window([60, 62, 64, 65, 67, 69, 71, 72])
    batch = torch.from_numpy(np.stack([low, high, mid] * 200))
    inputs, target = TransposeTask()(batch, torch.Generator().manual_seed(0))
    assert inputs is target and inputs.dtype == torch.long
    pitch = batch.long() >= 2
    shift = (inputs - batch.long())[pitch].view(600, -1)[:, 0]  # one shift per window
    assert ((inputs - batch.long())[~pitch] == 0).all()  # HOLD and NOTE_OFF stay
    assert set(shift[0::3].tolist()) == set(range(0, 6))  # the lowest note is A0
    assert set(shift[1::3].tolist()) == set(range(-5, 1))  # the highest is C8
    assert set(shift[2::3].tolist()) == set(range(-5, 6))
    assert int(inputs.max()) <= 89 and int(inputs[inputs > NOTE_OFF].min()) >= 2


def test_transposition_is_reproducible_from_the_generator() -> None:
    batch = torch.from_numpy(np.stack([_window([60, 62, 64, 65, 67, 69, 71, 72])] * 16))
    a, _ = TransposeTask()(batch, torch.Generator().manual_seed(3))
    b, _ = TransposeTask()(batch, torch.Generator().manual_seed(3))
    assert torch.equal(a, b)


def test_transpose_refuses_to_leave_the_piano() -> None:
    batch = torch.from_numpy(_window([108] * 8)[None])
    with pytest.raises(ValueError, match="outside"):
        transpose(batch, torch.tensor([1]))


def test_identity_task_and_bad_batches() -> None:
    batch = torch.full((2, 32), HOLD, dtype=torch.uint8)
    inputs, target = TokenIdentityTask()(batch, torch.Generator())
    assert inputs.dtype == torch.long and torch.equal(inputs, target)
    with pytest.raises(AekitError, match="token batches"):
        TransposeTask()(batch[0], torch.Generator())
    with pytest.raises(AekitError, match="max_semitones"):
        TransposeTask(max_semitones=13)
