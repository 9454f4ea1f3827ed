"""The token encoding: exact round trips, the top line, windows on bar lines, dedupe."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aekit.modalities.melody.tokens import (
    HOLD,
    NOTE_OFF,
    VOCAB,
    WINDOW,
    Note,
    cut_windows,
    dedupe,
    fill_bar_lines,
    join_windows,
    notes_to_tokens,
    pitch_to_token,
    token_to_pitch,
    tokens_to_notes,
    top_line,
    window_starts,
)


def test_constants_follow_magenta() -> None:
    assert (HOLD, NOTE_OFF, VOCAB, WINDOW) == (0, 1, 90, 32)
    assert pitch_to_token(21) == 2 and pitch_to_token(108) == 89 and pitch_to_token(60) == 41
    assert token_to_pitch(41) == 60
    with pytest.raises(ValueError):
        pitch_to_token(20)
    with pytest.raises(ValueError):
        token_to_pitch(NOTE_OFF)


@st.composite
def monophonic(draw) -> tuple[list[Note], int]:
    """Sorted, non-overlapping notes (gaps allowed) and a length that holds them."""
    notes, t = [], draw(st.integers(0, 3))
    for _ in range(draw(st.integers(0, 12))):
        length = draw(st.integers(1, 8))
        notes.append(Note(t, t + length, draw(st.integers(21, 108))))
        t += length + draw(st.integers(0, 3))
    return notes, max(t, 1) + draw(st.integers(0, 4))


@settings(max_examples=200, deadline=None, database=None)
@given(monophonic())
def test_notes_tokens_notes_is_exact(case: tuple[list[Note], int]) -> None:
    notes, length = case
    tokens = notes_to_tokens(notes, length)
    assert tokens.dtype == np.uint8 and tokens.shape == (length,)
    assert tokens_to_notes(tokens) == notes
    assert np.array_equal(notes_to_tokens(tokens_to_notes(tokens), length), tokens)


def test_hand_made_tokens() -> None:
    notes = [Note(0, 2, 60), Note(2, 3, 62), Note(5, 6, 64)]
    assert notes_to_tokens(notes, 8).tolist() == [41, 0, 43, 1, 0, 45, 1, 0]


def test_note_off_in_silence_is_ignored_when_decoding() -> None:
    assert tokens_to_notes([NOTE_OFF, NOTE_OFF, 41, HOLD]) == [Note(2, 4, 60)]


def test_overlapping_notes_are_refused_by_the_encoder() -> None:
    with pytest.raises(ValueError, match="monophonic"):
        notes_to_tokens([Note(0, 4, 60), Note(2, 6, 62)], 8)


def test_top_line_keeps_the_highest_of_simultaneous_onsets() -> None:
    chord = [Note(0, 4, 60), Note(0, 4, 67), Note(0, 4, 64), Note(4, 8, 62)]
    kept, dropped = top_line(chord)
    assert kept == [Note(0, 4, 67), Note(4, 8, 62)] and dropped == 2


def test_top_line_drops_notes_under_a_held_higher_note_and_cuts_for_higher_ones() -> None:
    notes = [Note(0, 8, 72), Note(2, 4, 60), Note(6, 10, 76)]
    kept, dropped = top_line(notes)
    assert kept == [Note(0, 6, 72), Note(6, 10, 76)] and dropped == 1


def test_windows_start_only_where_two_full_bars_follow() -> None:
    # a 2-step pickup, then bars of 16; a repeat sign splits the bar at 50 into 12 + 4
    assert window_starts([0, 2, 18, 34, 50, 62, 66, 82, 98]) == [2, 18, 34, 50, 66]
    # a bar of 15 steps (31..47 would be 32..48) breaks every window across it
    assert window_starts([0, 16, 32, 47, 64, 80, 96]) == [0, 64]


def test_fill_bar_lines_adds_implied_lines() -> None:
    assert fill_bar_lines([32], 64) == [0, 16, 32, 48, 64]  # no pickup, no final bar line
    assert fill_bar_lines([4, 20], 52) == [4, 20, 36, 52]  # a pickup of 4, the rest whole bars
    assert fill_bar_lines([], 48) == [0, 16, 32, 48]
    assert fill_bar_lines([], 40) == []  # no mark and no whole number of bars: unknown


def test_a_note_held_over_the_window_start_is_struck_again() -> None:
    notes = [Note(0, 20, 60), Note(20, 48, 64)]
    windows = cut_windows(notes, [16])
    assert windows.shape == (1, 32)
    assert tokens_to_notes(windows[0]) == [Note(0, 4, 60), Note(4, 32, 64)]


def test_dedupe_keeps_first_occurrences_in_order() -> None:
    a, b, c = (np.full(32, v, np.uint8) for v in (41, 43, 45))
    out = dedupe(np.stack([b, a, b, c, a]))
    assert [row[0] for row in out] == [43, 41, 45]


@settings(max_examples=200, deadline=None, database=None)
@given(st.lists(st.lists(st.integers(0, VOCAB - 1), min_size=4, max_size=4), max_size=5))
def test_joined_windows_each_sound_as_they_do_alone(windows: list[list[int]]) -> None:
    """Any token windows (a model's outputs), joined, play each window's own notes in turn: a
    window beginning with HOLD begins in silence, not holding the last window's note on."""
    rows = np.array(windows, dtype=np.uint8).reshape(len(windows), 4)
    joined = join_windows(rows)
    assert joined.shape == (4 * len(rows),)
    expected = [Note(n.start + 4 * i, n.end + 4 * i, n.pitch)
                for i, row in enumerate(rows) for n in tokens_to_notes(row)]  # fmt: skip
    assert tokens_to_notes(joined) == expected
