"""Baselines a melody autoencoder must beat, each scored by token accuracy on test windows.

- majority token: always the training set's most common token (HOLD: most steps continue a note).
- n-gram: the next token from the previous n-1 (true ones: teacher forcing), interpolated
  absolute discounting (Ney, Essen & Kneser 1994), fitted on training windows. It also gives
  NLL (is a sample or an interpolation midpoint melody-like?) and samples.
- repeat bar 1: bar 1 copied into bar 2 (folk phrases repeat; an autoencoder that only learns
  this is not much of one).
- nearest training window: the training window closest in Hamming distance. On test windows
  that occur verbatim in training it is exact, so it is scored on the unseen ones too.

All take and return (N, 32) token arrays; see `metrics.token_accuracy`.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from aekit.modalities.melody.tokens import STEPS_PER_BAR, VOCAB

BOS = VOCAB  # the context symbol before a window's first step
_BASE = VOCAB + 1  # contexts are numbers in base 91


def majority_token(train: np.ndarray) -> int:
    return int(np.bincount(np.asarray(train).ravel(), minlength=VOCAB).argmax())


def majority_predict(train: np.ndarray, test: np.ndarray) -> np.ndarray:
    return np.full_like(test, majority_token(train))


def repeat_bar_one(windows: np.ndarray) -> np.ndarray:
    """Each window with its first bar in place of every later bar."""
    first = windows[:, :STEPS_PER_BAR]
    return np.tile(first, (1, windows.shape[1] // STEPS_PER_BAR))


def nearest_window(
    train: np.ndarray, test: np.ndarray, chunk: int = 128, workers: int | None = None
) -> np.ndarray:
    """The training window nearest each test window in Hamming distance (ties: the first).

    Bit-sliced, so ~100k x 10k windows stay within a minute on two cores: each 7-bit token
    becomes one bit in each of 7 planes (uint32, one bit per step); two windows differ at step
    t when any plane differs at bit t, so distance = popcount(OR of the planes' XORs). Chunks
    of test windows run in threads (numpy releases the GIL inside these loops).
    """
    planes_train = np.ascontiguousarray(_bit_planes(train).T)  # (7, M)
    planes_test = _bit_planes(test)  # (N, 7)
    best = np.empty(len(test), dtype=np.int64)

    def run(start: int) -> None:
        q = planes_test[start : start + chunk]
        diff = np.zeros((len(q), planes_train.shape[1]), dtype=np.uint32)
        scratch = np.empty_like(diff)
        for plane in range(planes_train.shape[0]):
            np.bitwise_xor(q[:, plane, None], planes_train[plane][None], out=scratch)
            np.bitwise_or(diff, scratch, out=diff)
        best[start : start + chunk] = np.bitwise_count(diff).argmin(axis=1)

    with ThreadPoolExecutor(max_workers=workers or os.cpu_count() or 1) as pool:
        list(pool.map(run, range(0, len(test), chunk)))
    return np.asarray(train)[best]


def _bit_planes(windows: np.ndarray) -> np.ndarray:
    """(N, T<=32) tokens < 128 -> (N, 7) uint32: bit t of plane k is bit k of token t."""
    w = np.asarray(windows, dtype=np.uint32)
    if w.shape[1] > 32:
        raise ValueError(f"windows of at most 32 steps, got {w.shape[1]}")
    weights = np.uint32(1) << np.arange(w.shape[1], dtype=np.uint32)
    return np.stack([((w >> k) & 1) @ weights for k in range(7)], axis=1).astype(np.uint32)


@dataclass
class NGram:
    """An n-gram model of token windows with interpolated absolute discounting.

    P_k(w | h) = max(c(h, w) - D, 0) / c(h) + D * types(h) / c(h) * P_{k-1}(w | h'), where h'
    drops the oldest token of h, down to an add-one unigram; unseen contexts use P_{k-1}.
    Counts live in dense (contexts, 90) arrays found by binary search over context codes.
    """

    order: int = 4
    discount: float = 0.75

    def fit(self, windows: np.ndarray) -> NGram:
        if not 1 <= self.order <= 6 or not 0 < self.discount < 1:
            raise ValueError(
                f"order 1..6 and discount in (0, 1), got {self.order}, {self.discount}"
            )
        w = np.asarray(windows, dtype=np.int64)
        unigram = np.bincount(w.ravel(), minlength=VOCAB).astype(np.float64) + 1.0
        self.unigram = unigram / unigram.sum()
        self.tables: list[tuple[np.ndarray, np.ndarray]] = []  # (sorted codes, counts) per k
        for k in range(1, self.order):
            codes = _contexts(w, k).ravel()
            keys, inverse = np.unique(codes, return_inverse=True)
            counts = np.zeros((len(keys), VOCAB), dtype=np.float32)
            np.add.at(counts, (inverse, w.ravel()), 1.0)
            self.tables.append((keys, counts))
        return self

    def probabilities(self, contexts: np.ndarray) -> np.ndarray:
        """(M, order-1) contexts (oldest first; BOS before a window) -> (M, 90) P(next)."""
        p = np.tile(self.unigram, (len(contexts), 1))
        for k, (keys, counts) in enumerate(self.tables, start=1):
            code = _encode(contexts[:, contexts.shape[1] - k :])
            row = np.searchsorted(keys, code).clip(max=len(keys) - 1)
            found = keys[row] == code
            c = counts[row[found]].astype(np.float64)
            total = c.sum(axis=1, keepdims=True)
            types = (c > 0).sum(axis=1, keepdims=True)
            p_found = (np.maximum(c - self.discount, 0) + self.discount * types * p[found]) / total
            p[found] = p_found
        return p

    def _step_contexts(self, windows: np.ndarray) -> np.ndarray:
        """(N, T, order-1): for each step, the tokens before it."""
        w = np.asarray(windows, dtype=np.int64)
        pad = np.full((len(w), self.order - 1), BOS, dtype=np.int64)
        padded = np.concatenate([pad, w], axis=1)
        t = w.shape[1]
        return np.stack([padded[:, i : i + t] for i in range(self.order - 1)], axis=2)

    def _per_step(self, windows: np.ndarray, chunk: int = 4096) -> np.ndarray:
        """(N, T, 90) next-token probabilities under teacher forcing."""
        ctx = self._step_contexts(windows)
        n, t, _ = ctx.shape
        flat = ctx.reshape(n * t, -1)
        out = np.empty((n * t, VOCAB), dtype=np.float32)
        for s in range(0, n * t, chunk):
            out[s : s + chunk] = self.probabilities(flat[s : s + chunk])
        return out.reshape(n, t, VOCAB)

    def predict(self, windows: np.ndarray) -> np.ndarray:
        """Each step's most likely token given the true tokens before it."""
        return self._per_step(windows).argmax(axis=2).astype(np.uint8)

    def nll(self, windows: np.ndarray) -> np.ndarray:
        """(N,) mean negative log-likelihood per step, in nats."""
        w = np.asarray(windows, dtype=np.int64)
        p = self._per_step(w)
        picked = np.take_along_axis(p, w[..., None], axis=2)[..., 0]
        return -np.log(np.maximum(picked, 1e-12)).mean(axis=1)

    def sample(self, n: int, steps: int, rng: np.random.Generator) -> np.ndarray:
        """(n, steps) windows drawn token by token."""
        out = np.full((n, steps + self.order - 1), BOS, dtype=np.int64)
        for t in range(steps):
            p = self.probabilities(out[:, t : t + self.order - 1])
            cdf = np.cumsum(p, axis=1)
            u = rng.random((n, 1)) * cdf[:, -1:]
            out[:, t + self.order - 1] = (cdf < u).sum(axis=1).clip(max=VOCAB - 1)
        return out[:, self.order - 1 :].astype(np.uint8)


def _encode(ctx: np.ndarray) -> np.ndarray:
    """(M, k) context tokens -> (M,) int64 codes in base 91 (k <= 9 fits)."""
    code = np.zeros(len(ctx), dtype=np.int64)
    for i in range(ctx.shape[1]):
        code = code * _BASE + ctx[:, i]
    return code


def _contexts(w: np.ndarray, k: int) -> np.ndarray:
    """(N, T) codes of the k tokens before each step (BOS-padded)."""
    pad = np.full((len(w), k), BOS, dtype=np.int64)
    padded = np.concatenate([pad, w], axis=1)
    t = w.shape[1]
    return _encode(
        np.stack([padded[:, i : i + t] for i in range(k)], axis=2).reshape(-1, k)
    ).reshape(len(w), t)


def token_mix(a: np.ndarray, b: np.ndarray, steps: int, rng: np.random.Generator) -> np.ndarray:
    """The naive interpolation from `a` to `b` in `steps` (>= 2) melodies: step i takes each
    token from `b` with probability i / (steps - 1), else from `a` (the baseline for a latent
    interpolation's smoothness and midpoint NLL). One draw per step position, shared by all
    steps, so the tokens taken from `b` only grow along the path."""
    a, b = np.asarray(a), np.asarray(b)
    frac = np.linspace(0.0, 1.0, steps)[:, None]
    take_b = rng.random((1, a.shape[-1])) < frac
    return np.where(take_b, b[None], a[None]).astype(np.uint8)
