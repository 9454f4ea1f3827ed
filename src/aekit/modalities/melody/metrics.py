"""Melody metrics: reconstruction (token accuracy, note-onset F1) and what samples sound like.

Sample statistics follow the evaluation habits of MusicVAE and of Yang & Lerch 2020 ("On the
evaluation of generative models in music", https://doi.org/10.1007/s00521-018-3849-7): no single
number says a melody is good, but samples whose statistics sit far from the test set's are off.

- in-key ratio: the share of notes in the best-fitting of 24 keys (12 major scales and 12
  harmonic minor ones; natural minor has the notes of its relative major). Folk tunes score
  near 1; uniformly random pitches about 0.6.
- pitch-class entropy (bits): 0 for one repeated pitch class, log2(12) = 3.58 for all equally.
- mean absolute interval (semitones) between consecutive notes: folk melodies move mostly by
  step (about 2-3); random ones leap.
- off-beat onset share: notes starting off the quarter-note beat (16th steps not divisible by 4).

Statistics are computed per window where they are per melody (key, entropy) and averaged over
windows with notes; intervals and onsets are pooled. Inputs are (N, T) token arrays.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy import stats

from aekit.modalities.melody.tokens import FIRST_PITCH_TOKEN, MIN_PITCH, STEPS_PER_BEAT

MAJOR = (0, 2, 4, 5, 7, 9, 11)
HARMONIC_MINOR = (0, 2, 3, 5, 7, 8, 11)


def _scales() -> np.ndarray:
    """(24, 12) bool: pitch classes in each key, 12 major then 12 harmonic minor."""
    out = np.zeros((24, 12), dtype=bool)
    for k, steps in enumerate((MAJOR, HARMONIC_MINOR)):
        for tonic in range(12):
            out[12 * k + tonic, [(tonic + s) % 12 for s in steps]] = True
    return out


SCALES = _scales()


def _2d(tokens: np.ndarray | Sequence[Sequence[int]]) -> np.ndarray:
    arr = np.asarray(tokens)
    return arr[None] if arr.ndim == 1 else arr


def token_accuracy(predicted: np.ndarray, target: np.ndarray) -> float:
    """The share of steps where the predicted token is the target token."""
    predicted, target = np.asarray(predicted), np.asarray(target)
    if predicted.shape != target.shape:
        raise ValueError(f"shapes differ: {predicted.shape} vs {target.shape}")
    return float((predicted == target).mean()) if target.size else float("nan")


def onset_f1(predicted: np.ndarray, target: np.ndarray) -> float:
    """F1 of note onsets, an onset matching when step and pitch both agree (pooled over rows).
    Unlike token accuracy it ignores the long runs of HOLD that even a silent guess gets right."""
    p, t = _2d(predicted), _2d(target)
    p_on, t_on = p >= FIRST_PITCH_TOKEN, t >= FIRST_PITCH_TOKEN
    hits = int((p_on & t_on & (p == t)).sum())
    n_pred, n_true = int(p_on.sum()), int(t_on.sum())
    if n_pred + n_true == 0:
        return 1.0  # both silent: nothing to miss
    return 2.0 * hits / (n_pred + n_true)


def _pitch_classes(row: np.ndarray) -> np.ndarray:
    onsets = row[row >= FIRST_PITCH_TOKEN].astype(np.int64)
    return (onsets - FIRST_PITCH_TOKEN + MIN_PITCH) % 12


def in_key_ratio(tokens: np.ndarray) -> float:
    """Mean over windows with notes of the share of notes in their best-fitting key."""
    ratios = []
    for row in _2d(tokens):
        pcs = _pitch_classes(row)
        if pcs.size:
            hist = np.bincount(pcs, minlength=12)
            ratios.append((SCALES @ hist).max() / pcs.size)
    return float(np.mean(ratios)) if ratios else float("nan")


def pitch_class_entropy(tokens: np.ndarray) -> float:
    """Mean over windows with notes of the entropy (bits) of their pitch-class histogram."""
    values = []
    for row in _2d(tokens):
        pcs = _pitch_classes(row)
        if pcs.size:
            p = np.bincount(pcs, minlength=12) / pcs.size
            p = p[p > 0]
            values.append(float(-(p * np.log2(p)).sum()))
    return float(np.mean(values)) if values else float("nan")


def mean_abs_interval(tokens: np.ndarray) -> float:
    """Mean |interval| in semitones between consecutive notes of a window, pooled."""
    steps = []
    for row in _2d(tokens):
        pitches = row[row >= FIRST_PITCH_TOKEN].astype(np.int64)
        steps.append(np.abs(np.diff(pitches)))
    pooled = np.concatenate(steps) if steps else np.zeros(0)
    return float(pooled.mean()) if pooled.size else float("nan")


def off_beat_share(tokens: np.ndarray) -> float:
    """The share of note onsets not on a quarter-note beat, pooled."""
    t = _2d(tokens)
    onsets = t >= FIRST_PITCH_TOKEN
    total = int(onsets.sum())
    if not total:
        return float("nan")
    on_beat = np.arange(t.shape[1]) % STEPS_PER_BEAT == 0
    return float((onsets & ~on_beat).sum() / total)


def sample_statistics(tokens: np.ndarray) -> dict[str, float]:
    """The four statistics, to set samples beside the test set and the n-gram's samples."""
    return {
        "in_key": in_key_ratio(tokens),
        "pc_entropy": pitch_class_entropy(tokens),
        "abs_interval": mean_abs_interval(tokens),
        "off_beat": off_beat_share(tokens),
    }


def hamming(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Number of differing steps, row by row (broadcasts: one window against many)."""
    return (np.asarray(a) != np.asarray(b)).sum(axis=-1)


def spearman(x: Sequence[float], y: Sequence[float]) -> float:
    """Spearman's rank correlation; NaN when either side is constant (no ranking to compare)."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    if x.size < 2 or np.all(x == x[0]) or np.all(y == y[0]):
        return float("nan")
    return float(stats.spearmanr(x, y).statistic)


def interpolation_smoothness(path: np.ndarray) -> float:
    """Spearman correlation between the step along an interpolation path (K, T) and the Hamming
    distance to its start: 1 when every step moves further from the start melody."""
    path = _2d(path)
    return spearman(np.arange(len(path)), hamming(path, path[0]))


def nats_to_bits(nats: float) -> float:
    return nats / math.log(2)
