"""A user's MIDI file as the 2-bar windows the melody verbs work on (`aekit reconstruct`,
`aekit interpolate`): torch-free, so the CLI and the fuzzer (fuzz/targets.py) share it.

Training windows start on every bar line (they overlap by a bar); a file reconstructed or
played back wants its windows back to back instead, so that joined (`tokens.join_windows`) they
play the tune once: from the first complete 2-bar stretch with notes, each window starts where
the one before ended (or at the next bar line that starts a window, past a broken bar).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from aekit.errors import AekitError
from aekit.modalities.melody.midi import read_midi
from aekit.modalities.melody.tokens import FIRST_PITCH_TOKEN, WINDOW, cut_windows, window_starts


@dataclass(frozen=True)
class FileWindows:
    """The back-to-back windows of one file, at most `limit` of them."""

    path: Path
    windows: np.ndarray  # (N, 32) uint8, N >= 1
    total: int  # how many back-to-back windows the file has, before any limit
    messages: tuple[str, ...]  # what was changed on the way in (top line, resampled, ...)


def back_to_back(notes, bar_lines) -> np.ndarray:
    """(N, 32) uint8: the windows with notes in them, each starting at or after the end of the
    one before (in the order of `window_starts`)."""
    starts = window_starts(bar_lines)
    windows = cut_windows(notes, starts)
    kept, end = [], None
    for start, window in zip(starts, windows, strict=True):
        if (end is None or start >= end) and (window >= FIRST_PITCH_TOKEN).any():
            kept.append(window)
            end = start + WINDOW
    return np.stack(kept) if kept else np.zeros((0, WINDOW), dtype=np.uint8)


def read_windows(path: str | os.PathLike[str], limit: int | None = None) -> FileWindows:
    """Read and check a MIDI file (`midi.read_midi`: one AekitError line when refused) and cut
    it into back-to-back 2-bar windows, the first `limit` of them when given."""
    if limit is not None and limit < 1:
        raise AekitError(f"--windows must be at least 1, got {limit}")
    melody = read_midi(path)
    windows = back_to_back(melody.notes, melody.bar_lines)
    if not len(windows):  # read_midi refuses a melody without a window; kept as a guard
        raise AekitError(f"{path} has no complete 2-bar window with notes in it")
    chosen = windows if limit is None else windows[:limit]
    return FileWindows(Path(path), chosen, len(windows), melody.messages)
