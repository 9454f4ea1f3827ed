"""Magenta's monophonic melody tokens: one token per 16th-note step, 90 classes.

MusicVAE (Roberts et al. 2018, https://arxiv.org/abs/1803.05428) and Magenta's MelodyRNN encode
a melody as one event per 16th note: a pitch starts a note, ``NOTE_OFF`` ends the sounding one,
and ``HOLD`` ("no event") continues whatever the previous step did -- the note sounds on, or the
silence goes on. With MIDI pitches 21-108 (the piano's A0..C8) that is 2 + 88 = 90 classes.

    HOLD = 0, NOTE_OFF = 1, pitch p -> p - 21 + 2        (so A0 -> 2, middle C 60 -> 41)

A melody is monophonic: where several notes start on the same step the highest one is kept (the
tune is usually on top), and a new note ends the one before it. Notes here are in steps, after
quantization (`midi.py` does the ticks); a `Note` ends at ``end`` (exclusive). For canonical
monophonic notes ``tokens_to_notes(notes_to_tokens(notes, n)) == notes`` exactly.

Windows are 2 bars of 4/4 (32 steps) starting on a bar line. A note held across the window's
first bar line is struck again there: a window that began with ``HOLD`` would say "silence"
where the tune sounds, and the model would learn rests that are not in the music.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

HOLD = 0  # no event: the note (or the silence) of the previous step goes on
NOTE_OFF = 1  # the sounding note ends here
MIN_PITCH = 21  # A0, the piano's lowest key
MAX_PITCH = 108  # C8, its highest
FIRST_PITCH_TOKEN = 2
VOCAB = FIRST_PITCH_TOKEN + MAX_PITCH - MIN_PITCH + 1  # 90
STEPS_PER_BAR = 16  # 16th notes in a bar of 4/4 (and of 2/2)
STEPS_PER_BEAT = 4  # 16ths per quarter note, the MIDI beat
BARS_PER_WINDOW = 2
WINDOW = STEPS_PER_BAR * BARS_PER_WINDOW  # 32


@dataclass(frozen=True, order=True)
class Note:
    """One note on the 16th-note grid: sounds on steps start .. end-1; MIDI pitch."""

    start: int
    end: int
    pitch: int


def pitch_to_token(pitch: int) -> int:
    if not MIN_PITCH <= pitch <= MAX_PITCH:
        raise ValueError(f"pitch {pitch} is outside {MIN_PITCH}..{MAX_PITCH}")
    return pitch - MIN_PITCH + FIRST_PITCH_TOKEN


def token_to_pitch(token: int) -> int:
    if not FIRST_PITCH_TOKEN <= token < VOCAB:
        raise ValueError(f"token {token} is not a pitch (pitches are {FIRST_PITCH_TOKEN}..)")
    return token - FIRST_PITCH_TOKEN + MIN_PITCH


def top_line(notes: Iterable[Note]) -> tuple[list[Note], int]:
    """The monophonic top line of `notes` and how many notes it dropped.

    Onsets are visited in time order. At each onset the highest starting note is the candidate;
    it is dropped when a higher kept note still sounds (it lies under the tune), otherwise it
    cuts the sounding note short and is kept. Every note is at least one step long.
    """
    by_start: dict[int, list[Note]] = {}
    for n in notes:
        by_start.setdefault(n.start, []).append(n)
    kept: list[Note] = []
    dropped = 0
    for start in sorted(by_start):
        group = by_start[start]
        best = max(group, key=lambda n: (n.pitch, n.end))
        dropped += len(group) - 1
        if kept and kept[-1].end > start and kept[-1].pitch > best.pitch:
            dropped += 1
            continue
        if kept and kept[-1].end > start:
            kept[-1] = Note(kept[-1].start, start, kept[-1].pitch)
        kept.append(Note(start, max(best.end, start + 1), best.pitch))
    return kept, dropped


def notes_to_tokens(notes: Sequence[Note], length: int) -> np.ndarray:
    """(length,) uint8 tokens of monophonic `notes` (sorted, non-overlapping, within length)."""
    tokens = np.full(length, HOLD, dtype=np.uint8)
    previous_end = 0
    for n in notes:
        if n.start < previous_end or not 0 <= n.start < n.end <= length:
            raise ValueError(f"notes must be monophonic and inside 0..{length}, got {n}")
        tokens[n.start] = pitch_to_token(n.pitch)
        if n.end < length:
            tokens[n.end] = NOTE_OFF  # overwritten by the next note if it starts right here
        previous_end = n.end
    return tokens


def tokens_to_notes(tokens: Sequence[int] | np.ndarray) -> list[Note]:
    """The notes a token sequence plays. Lenient, for model outputs: a NOTE_OFF in silence is
    a no-op, and any value outside the vocabulary is a programming error."""
    arr = np.asarray(tokens, dtype=np.int64)
    if arr.ndim != 1:
        raise ValueError(f"tokens_to_notes takes one sequence, got shape {arr.shape}")
    if arr.size and (arr.min() < 0 or arr.max() >= VOCAB):
        raise ValueError(f"tokens must lie in 0..{VOCAB - 1}, got {arr.min()}..{arr.max()}")
    notes: list[Note] = []
    start = pitch = -1
    for step, token in enumerate(arr.tolist()):
        if token == HOLD:
            continue
        if start >= 0:
            notes.append(Note(start, step, pitch))
            start = -1
        if token != NOTE_OFF:
            start, pitch = step, token_to_pitch(token)
    if start >= 0:
        notes.append(Note(start, len(arr), pitch))
    return notes


def window_starts(bar_lines: Iterable[int], bars: int = BARS_PER_WINDOW) -> list[int]:
    """Steps where `bars` complete bars begin: b, b+16, ..., b+16*bars all bar lines. A pickup
    or a bar of the wrong length breaks that chain and never enters a window; a bar line inside
    a bar (a repeat sign splitting it, ``G3 :| D``) does not matter, the downbeats are kept."""
    lines = set(bar_lines)
    return sorted(
        b for b in lines if all(b + k * STEPS_PER_BAR in lines for k in range(1, bars + 1))
    )


def cut_windows(notes: Sequence[Note], starts: Sequence[int], width: int = WINDOW) -> np.ndarray:
    """(len(starts), width) uint8 windows of monophonic `notes`, a held note struck again at
    each window's start. Steps past the last note are silence."""
    out = np.full((len(starts), width), HOLD, dtype=np.uint8)
    notes = sorted(notes)
    onsets = np.array([n.start for n in notes], dtype=np.int64)
    for row, begin in enumerate(starts):
        stop = begin + width
        # the first note that may still sound at `begin`: the last one starting at or before it
        first = max(int(np.searchsorted(onsets, begin, side="right")) - 1, 0)
        inside = []
        for n in notes[first:]:
            if n.start >= stop:
                break
            if n.end > begin:
                inside.append(Note(max(n.start, begin) - begin, min(n.end, stop) - begin, n.pitch))
        out[row] = notes_to_tokens(inside, width)
    return out


def dedupe(windows: np.ndarray) -> np.ndarray:
    """The distinct rows of `windows` in order of first appearance (repeats in a tune -- AABB
    forms, expanded repeat signs -- would otherwise weigh its phrases double)."""
    if len(windows) == 0:
        return windows
    _, first = np.unique(windows, axis=0, return_index=True)
    return windows[np.sort(first)]


def fill_bar_lines(marks: Iterable[int], end: int) -> list[int]:
    """Bar lines from notated ones (`marks`, steps) plus those implied between them.

    A stretch between two marks that is a whole number of bars gets the bar lines inside it
    (tunes written without some bar lines); so does the stretch from step 0 to the first mark
    (no pickup) and from the last mark to `end` (no final bar line). Other stretches are
    partial bars and get none.
    """
    lines = sorted({m for m in marks if 0 <= m <= end})
    if not lines:
        return list(range(0, end + 1, STEPS_PER_BAR)) if end % STEPS_PER_BAR == 0 else []
    points = [0, *lines, end]
    filled: set[int] = set(lines)
    for a, c in zip(points, points[1:], strict=False):
        if c > a and (c - a) % STEPS_PER_BAR == 0:
            filled.update(range(a, c + 1, STEPS_PER_BAR))
    return sorted(filled)


def join_windows(windows: Sequence[np.ndarray] | np.ndarray) -> np.ndarray:
    """Windows played one after the other as one token sequence, each sounding as it does alone.

    A window that begins with ``HOLD`` begins in silence, but after another window a ``HOLD``
    would hold that window's last note on; it becomes ``NOTE_OFF`` (a no-op in silence), so
    ``cut_windows`` of the joined melody at 0, 32, ... gives the windows back (canonically).
    """
    rows = [np.asarray(w, dtype=np.uint8) for w in windows]
    if not rows:
        return np.zeros(0, dtype=np.uint8)
    joined = [rows[0]]
    for row in rows[1:]:
        if len(row) and row[0] == HOLD:
            row = row.copy()
            row[0] = NOTE_OFF
        joined.append(row)
    return np.concatenate(joined)
