"""The MIDI reader on untrusted bytes: a melody or a one-line AekitError, nothing else.

Random bytes, random bytes behind a valid header, and valid files (with time signatures, a
pickup, polyphony, drums) broken the ways files break (tests/fuzz/strategies.damaged). The
same reader is in `make fuzz` (fuzz/targets.py's ``midi``, with the verbs' `read_windows`), whose
kept inputs tests/fuzz/test_corpus.py replays; this keeps the property in the fast suite.
"""

from __future__ import annotations

import struct

from hypothesis import given
from hypothesis import strategies as st

from aekit.modalities.melody.midi import BAR_MARKER_CC, read_midi
from tests.fuzz.strategies import SETTINGS, damaged, result_or_aekit_error
from tests.melody.synth import midi_bytes, scale_notes

SEEDS = [
    midi_bytes(scale_notes(bars=3)),
    midi_bytes(scale_notes(bars=2), signatures=[(0, 1, 4), (4, 4, 4)]),
    midi_bytes(scale_notes(bars=2), extra_tracks=[[(0, 16, 48), (0, 16, 52)]]),
    midi_bytes(scale_notes(bars=2), channel=9),
    midi_bytes(scale_notes(bars=3), signatures=[(0, 3, 4)]),
    midi_bytes([(i, i + 1, 10 + 3 * i) for i in range(38)], step_ticks=37),
]


def _read(data: bytes) -> object:
    melody = read_midi(data, name="fuzz.mid")
    assert len(melody.windows()) > 0  # an accepted melody always has a window
    return melody


def _read_marked(data: bytes) -> object:
    return read_midi(data, name="fuzz.mid", bar_marker=BAR_MARKER_CC)


@SETTINGS
@given(st.binary(max_size=256))
def test_random_bytes(data: bytes) -> None:
    result_or_aekit_error(_read, data)


@SETTINGS
@given(st.binary(max_size=200), st.integers(0, 2), st.integers(-(2**15), 2**15 - 1))
def test_random_tracks_behind_a_valid_header(body: bytes, kind: int, division: int) -> None:
    header = b"MThd" + struct.pack(">IhhH", 6, kind, 1, division & 0xFFFF)
    track = b"MTrk" + struct.pack(">I", len(body)) + body
    result_or_aekit_error(_read, header + track)


@SETTINGS
@given(st.sampled_from(SEEDS).flatmap(lambda seed: damaged(seed, max_ops=6)), st.booleans())
def test_damaged_files(data: bytes, marked: bool) -> None:
    result_or_aekit_error(_read_marked if marked else _read, data)
