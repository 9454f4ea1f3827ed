"""Melody data sets split by tune, the "unseen" test mask, and the transposition task.

    data = load_melodies("folk-melodies", seed=0)     # or "midi:DIR", or tunes.abc
    data.train.tokens                                 # (N, 32) uint8, 90 classes
    task = TransposeTask()                            # training: +-5 semitones per window
    inputs, target = task(torch.from_numpy(data.train.tokens[:64]), generator)

Splits are **by tune** (seeded): the windows of one tune are close relatives (a phrase and its
variation, the same bar in two windows), so a window-level split would put near copies of test
windows in training and flatter every score. Even so a folk corpus repeats itself -- a cadence
shared by many tunes -- and some test windows occur verbatim in training; `unseen` marks the
others, and metrics are reported on all test windows and on the unseen ones.

Training draws a transposition per window (Magenta's MusicVAE augmentation): pitch is relative
in folk music, and the model should not learn the collections' favourite keys.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from aekit.errors import AekitError
from aekit.modalities.melody import abc, corpus
from aekit.modalities.melody.midi import MelodyRefused, read_midi
from aekit.modalities.melody.tokens import (
    FIRST_PITCH_TOKEN,
    MAX_PITCH,
    MIN_PITCH,
    VOCAB,
    WINDOW,
    dedupe,
)

MIDI_SUFFIXES = (".mid", ".midi")
FORMS = "folk-melodies, midi:DIR (or midi:FILE), or a path to an .abc file"
MAX_SEMITONES = 5  # MusicVAE's augmentation range


@dataclass(frozen=True)
class MelodySplit:
    """Windows of some tunes: ``tokens[i]`` comes from ``MelodyData.tune_ids[tune[i]]``."""

    tokens: np.ndarray  # (N, 32) uint8
    tune: np.ndarray  # (N,) int32

    def __len__(self) -> int:
        return int(self.tokens.shape[0])


@dataclass(frozen=True)
class MelodyData:
    """A melody data set split three ways by tune; what the model config needs to know."""

    name: str
    train: MelodySplit
    val: MelodySplit
    test: MelodySplit
    tune_ids: tuple[str, ...]
    location: str  # the cache file, directory or ABC file it came from
    messages: tuple[str, ...] = ()  # what was skipped or changed, one line each
    vocab_size: int = VOCAB
    window: int = WINDOW

    def unseen(self, split: str = "test") -> np.ndarray:
        """(N,) bool: the windows of `split` that occur nowhere in train."""
        return unseen_mask(getattr(self, split).tokens, self.train.tokens)


def unseen_mask(windows: np.ndarray, train: np.ndarray) -> np.ndarray:
    """(N,) bool: which rows of `windows` are not rows of `train` (exact match)."""
    seen = {row.tobytes() for row in np.ascontiguousarray(train)}
    return np.array([row.tobytes() not in seen for row in np.ascontiguousarray(windows)], bool)


def load_melodies(
    name: str = corpus.NAME,
    *,
    seed: int = 0,
    val_fraction: float = 0.1,
    test_fraction: float = 0.1,
    log: corpus.Log = corpus.say,
) -> MelodyData:
    """Load a melody source and split it by tune (seeded: the same seed, the same split)."""
    for label, f in (("val_fraction", val_fraction), ("test_fraction", test_fraction)):
        if isinstance(f, bool) or not isinstance(f, int | float) or not 0.0 <= f < 1.0:
            raise AekitError(f"{label} must be a number in [0, 1), got {f!r}")
    if val_fraction + test_fraction >= 1.0:
        raise AekitError(
            f"val_fraction + test_fraction must leave tunes to train on, got "
            f"{val_fraction} + {test_fraction}"
        )
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise AekitError(f"seed must be a non-negative integer, got {seed!r}")
    if name == corpus.NAME:
        c = corpus.load_corpus(log=log)
        windows, tune, ids, location, messages = c.windows, c.tune, c.tune_ids, c.location, ()
    elif name.startswith("midi:"):
        windows, tune, ids, messages = _from_midi(Path(name[5:]).expanduser())
        location = name[5:]
    elif name.startswith("abc:") or name.lower().endswith(".abc"):
        path = Path(name[4:] if name.startswith("abc:") else name).expanduser()
        windows, tune, ids, messages = _from_abc(path, log)
        location = str(path)
    else:
        close = difflib.get_close_matches(name, [corpus.NAME], n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise AekitError(f"unknown melody source {name!r}{hint}; use {FORMS}")
    train, val, test = split_by_tune(tune, len(ids), seed, val_fraction, test_fraction)
    if not len(train):
        raise AekitError(
            f"{name}: no training windows left from {len(ids)} tunes with val_fraction="
            f"{val_fraction}, test_fraction={test_fraction}; add tunes or lower the fractions"
        )
    parts = [MelodySplit(windows[i], tune[i]) for i in (train, val, test)]
    return MelodyData(name, *parts, tune_ids=ids, location=location, messages=messages)


def split_by_tune(
    tune: np.ndarray, n_tunes: int, seed: int, val_fraction: float, test_fraction: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Window indices of (train, val, test): whole tunes go to one split each. Tunes are drawn
    in a seeded order, test first, so the test tunes do not depend on val_fraction."""
    order = np.random.default_rng(seed).permutation(n_tunes)
    n_test = int(np.floor(n_tunes * test_fraction + 0.5))
    n_val = int(np.floor(n_tunes * val_fraction + 0.5))
    which = np.zeros(n_tunes, dtype=np.int8)  # 0 train, 1 val, 2 test
    which[order[:n_test]] = 2
    which[order[n_test : n_test + n_val]] = 1
    where = which[tune]
    return tuple(np.flatnonzero(where == k) for k in range(3))  # type: ignore[return-value]


def _from_midi(path: Path) -> tuple[np.ndarray, np.ndarray, tuple[str, ...], tuple[str, ...]]:
    if path.is_file():
        files = [path]
    elif path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.suffix.lower() in MIDI_SUFFIXES)
    else:
        raise AekitError(f"midi:{path}: no such file or directory")
    if not files:
        raise AekitError(f"midi:{path}: no .mid or .midi files in it")
    rows, ids, refused, changed = [], [], {}, {}
    for f in files:
        ident = f.relative_to(path).as_posix() if path.is_dir() else f.name
        try:
            melody = read_midi(f, name=ident)
        except MelodyRefused as exc:
            refused.setdefault(exc.reason, []).append((ident, str(exc)))
            continue
        except AekitError as exc:  # unreadable (permissions, vanished): same, for a folder
            refused.setdefault("unreadable", []).append((ident, str(exc)))
            continue
        for change in melody.changes:
            changed.setdefault(change, []).append(ident)
        rows.append(dedupe(melody.windows()))
        ids.append(ident)
    messages = _summary(len(files), refused, changed, "files")
    if not rows:
        first = next(iter(refused.values()))[0][1]
        raise AekitError(f"midi:{path}: none of {len(files)} MIDI files is usable; e.g. {first}")
    return *_stack(rows), tuple(ids), messages


def _from_abc(
    path: Path, log: corpus.Log
) -> tuple[np.ndarray, np.ndarray, tuple[str, ...], tuple[str, ...]]:
    try:
        text = path.read_bytes().decode("utf-8", errors="replace")
    except OSError as exc:
        raise AekitError(f"{path}: cannot read ({exc.strerror})") from None
    tunes = abc.split_tunes(text, path.name)
    if not tunes:
        raise AekitError(f"{path}: no ABC tunes in it (each starts with an X: line)")
    done = corpus.convert_tunes(tunes, log=log)
    refused = {
        reason: [(ident, done.messages[ident]) for ident in who]
        for reason, who in done.skipped.items()
    }
    messages = _summary(len(tunes), refused, done.changed, "tunes")
    if not done.ids:
        first = next(iter(refused.values()))[0][1]
        raise AekitError(f"{path}: none of {len(tunes)} tunes is usable; e.g. {first}")
    return done.windows, done.tune, done.ids, messages


def _stack(rows: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    tune = np.concatenate([np.full(len(r), i, np.int32) for i, r in enumerate(rows)])
    return np.concatenate(rows), tune


def _summary(
    total: int,
    refused: dict[str, list[tuple[str, str]]],
    changed: dict[str, list[str]],
    what: str,
) -> tuple[str, ...]:
    """One line per refusal reason naming the items, one per kind of change."""
    lines = []
    for reason, items in refused.items():
        if reason == "no 2-bar window":
            names = ", ".join(ident for ident, _ in items)
            lines.append(f"{len(items)} of {total} {what} have no usable 2-bar window: {names}")
        else:
            lines.append(f"skipped {len(items)} of {total} {what} ({reason}): " + "; ".join(
                message for _, message in items[:3]
            ) + ("; ..." if len(items) > 3 else ""))  # fmt: skip
    for change, who in changed.items():
        lines.append(f"{change} {len(who)} of {total} {what}: {', '.join(who[:5])}" + (
            ", ..." if len(who) > 5 else ""
        ))  # fmt: skip
    return tuple(lines)


# --- the transposition task -----------------------------------------------------------------


def transpose(tokens: torch.Tensor, semitones: torch.Tensor) -> torch.Tensor:
    """(B, T) tokens with every pitch of row b moved by semitones[b]; HOLD and NOTE_OFF stay.
    The caller keeps notes in 21..108 (`shift_range`); a pitch pushed out of range is an error."""
    tokens = tokens.long()
    is_pitch = tokens >= FIRST_PITCH_TOKEN
    moved = tokens + semitones.long().to(tokens.device).view(-1, 1) * is_pitch
    if bool(((moved < FIRST_PITCH_TOKEN) & is_pitch).any() | (moved >= VOCAB).any()):
        raise ValueError("transpose moved a note outside MIDI 21..108")
    return moved


def shift_range(tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(B,) lowest and highest shifts that keep each row's notes in 21..108 (rests: any)."""
    tokens = tokens.long()
    is_pitch = tokens >= FIRST_PITCH_TOKEN
    big = VOCAB + 1
    lo = torch.where(is_pitch, tokens, big).min(dim=1).values
    hi = torch.where(is_pitch, tokens, -big).max(dim=1).values
    first, last = FIRST_PITCH_TOKEN, FIRST_PITCH_TOKEN + MAX_PITCH - MIN_PITCH
    return (first - lo).clamp(max=0), (last - hi).clamp(min=0)


@dataclass(frozen=True)
class TransposeTask:
    """(raw uint8 batch (B, 32), generator) -> (inputs, target), both the same transposed long
    tokens: each window moves by a whole number of semitones drawn uniformly from those in
    [-max_semitones, max_semitones] that keep its notes on the piano."""

    max_semitones: int = MAX_SEMITONES

    def __post_init__(self) -> None:
        if isinstance(self.max_semitones, bool) or not 0 <= self.max_semitones <= 12:
            raise AekitError(f"max_semitones must be 0..12, got {self.max_semitones!r}")

    def __call__(
        self, batch: torch.Tensor, generator: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor]:
        if batch.dim() != 2:
            raise AekitError(
                f"melody tasks take (B, steps) token batches, got {tuple(batch.shape)}"
            )
        lo, hi = shift_range(batch)
        lo = lo.clamp(min=-self.max_semitones)
        hi = hi.clamp(max=self.max_semitones)
        u = torch.rand(batch.shape[0], generator=generator, device=generator.device)
        shift = lo + (u.to(lo.device) * (hi - lo + 1).to(u.dtype)).long().clamp(max=hi - lo)
        moved = transpose(batch, shift)
        return moved, moved


@dataclass(frozen=True)
class TokenIdentityTask:
    """input = target = the tokens as long: evaluation and plain autoencoding."""

    def __call__(
        self, batch: torch.Tensor, generator: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor]:
        tokens = batch.long()
        return tokens, tokens
