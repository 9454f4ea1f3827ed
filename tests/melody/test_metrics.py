"""Metrics on hand-made melodies whose values can be worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from aekit.modalities.melody import metrics as M
from aekit.modalities.melody.tokens import HOLD, Note, notes_to_tokens


def melody(pitches: list[int], every: int = 4, offset: int = 0) -> np.ndarray:
    notes = [Note(offset + every * i, offset + every * i + 1, p) for i, p in enumerate(pitches)]
    return notes_to_tokens(notes, 32)


C_MAJOR = [60, 62, 64, 65, 67, 69, 71, 72]
CHROMATIC = list(range(60, 72))


def test_in_key_ratio() -> None:
    assert M.in_key_ratio(melody(C_MAJOR)) == 1.0
    assert M.in_key_ratio(melody([57, 59, 60, 62, 64, 65, 68, 69])) == 1.0  # A harmonic minor
    assert M.in_key_ratio(melody(CHROMATIC, every=2)) == pytest.approx(7 / 12)


def test_pitch_class_entropy() -> None:
    assert M.pitch_class_entropy(melody([60] * 8)) == 0.0
    assert M.pitch_class_entropy(melody([60, 72, 62, 74])) == pytest.approx(1.0)  # 2 classes
    assert M.pitch_class_entropy(melody(CHROMATIC, every=2)) == pytest.approx(math.log2(12))


def test_mean_abs_interval_and_off_beat_share() -> None:
    assert M.mean_abs_interval(melody([60, 62, 59, 59])) == pytest.approx((2 + 3 + 0) / 3)
    assert M.off_beat_share(melody(C_MAJOR)) == 0.0
    assert M.off_beat_share(melody(C_MAJOR, every=2)) == 0.5
    assert math.isnan(M.off_beat_share(np.zeros((1, 32), np.uint8)))


def test_token_accuracy_and_onset_f1() -> None:
    target = melody(C_MAJOR)[None]
    assert M.token_accuracy(target, target) == 1.0 and M.onset_f1(target, target) == 1.0
    silent = np.full_like(target, HOLD)
    assert M.token_accuracy(silent, target) == pytest.approx(1 - 16 / 32)  # 8 ons, 8 offs
    assert M.onset_f1(silent, target) == 0.0
    wrong_pitch = melody([61, *C_MAJOR[1:]])[None]
    assert M.onset_f1(wrong_pitch, target) == pytest.approx(7 / 8)


def test_spearman_and_interpolation_smoothness() -> None:
    assert M.spearman([1, 2, 3, 4], [10, 20, 25, 40]) == pytest.approx(1.0)
    assert math.isnan(M.spearman([1, 2, 3], [5, 5, 5]))
    a = melody(C_MAJOR)
    path = np.stack([a] + [np.where(np.arange(32) < k, 50, a) for k in (4, 8, 16, 32)])
    assert M.interpolation_smoothness(path) == pytest.approx(1.0)


def test_sample_statistics_keys() -> None:
    stats = M.sample_statistics(np.stack([melody(C_MAJOR), melody([60] * 8)]))
    assert set(stats) == {"in_key", "pc_entropy", "abs_interval", "off_beat"}
    assert stats["in_key"] == 1.0
