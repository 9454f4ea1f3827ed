"""Baselines on toy sets where the right answer is known."""

from __future__ import annotations

import numpy as np
import pytest

from aekit.modalities.melody import baselines as B
from aekit.modalities.melody.metrics import token_accuracy
from aekit.modalities.melody.tokens import HOLD, VOCAB


def _random_windows(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    w = rng.integers(2, VOCAB, size=(n, 32)).astype(np.uint8)
    w[rng.random((n, 32)) < 0.6] = HOLD
    return w


def test_majority_token_and_repeat_bar_one() -> None:
    train = np.array([[HOLD] * 30 + [41, 43]], np.uint8)
    test = np.array([[41] + [HOLD] * 31], np.uint8)
    assert B.majority_token(train) == HOLD
    assert token_accuracy(B.majority_predict(train, test), test) == pytest.approx(31 / 32)
    bar = np.arange(16, dtype=np.uint8) + 2
    window = np.concatenate([bar, np.full(16, HOLD, np.uint8)])[None]
    assert B.repeat_bar_one(window).tolist() == [bar.tolist() * 2]


def test_nearest_window_matches_brute_force() -> None:
    train, test = _random_windows(700, 0), _random_windows(90, 1)
    test[:5] = train[[3, 50, 600, 7, 7]]  # exact copies must come back
    got = B.nearest_window(train, test, chunk=16, workers=2)
    brute = train[(train[None] != test[:, None]).sum(axis=2).argmin(axis=1)]
    assert np.array_equal(got, brute)
    assert np.array_equal(got[:5], train[[3, 50, 600, 7, 7]])


def test_ngram_learns_a_deterministic_pattern() -> None:
    phrase = np.array([41, 0, 43, 0, 45, 0, 1, 0] * 4, np.uint8)
    other = np.array([50, 0, 0, 0, 52, 0, 0, 1] * 4, np.uint8)
    train = np.stack([phrase, other] * 20)
    model = B.NGram(order=4).fit(train)
    assert token_accuracy(model.predict(phrase[None]), phrase[None]) > 0.9
    random = _random_windows(5, 2)
    assert model.nll(phrase[None])[0] < 0.5 < model.nll(random).mean()


def test_ngram_probabilities_are_distributions() -> None:
    model = B.NGram(order=3).fit(_random_windows(50, 3))
    contexts = np.array([[B.BOS, B.BOS], [41, 0], [89, 89], [2, 3]])
    p = model.probabilities(contexts)
    assert p.shape == (4, VOCAB) and np.allclose(p.sum(axis=1), 1.0) and (p > 0).all()


def test_ngram_samples_are_seeded_tokens() -> None:
    model = B.NGram().fit(_random_windows(50, 4))
    a = model.sample(6, 32, np.random.default_rng(0))
    b = model.sample(6, 32, np.random.default_rng(0))
    assert a.shape == (6, 32) and a.dtype == np.uint8 and a.max() < VOCAB
    assert np.array_equal(a, b)


def test_token_mix_goes_from_a_to_b_monotonically() -> None:
    a, b = np.full(32, 41, np.uint8), np.full(32, 60, np.uint8)
    path = B.token_mix(a, b, 9, np.random.default_rng(0))
    assert np.array_equal(path[0], a) and np.array_equal(path[-1], b)
    taken = (path == 60).sum(axis=1)
    assert (np.diff(taken) >= 0).all()
