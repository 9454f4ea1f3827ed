"""The MIDI reader and writer: exact round trips, and one AekitError line per bad input."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import numpy as np
import pytest

from aekit.errors import AekitError
from aekit.modalities.melody.midi import (
    MelodyRefused,
    NoWindowError,
    midi_bytes,
    read_midi,
    write_midi,
)
from aekit.modalities.melody.tokens import Note, notes_to_tokens
from tests.melody.synth import midi_bytes as make_midi
from tests.melody.synth import scale_notes

mido = pytest.importorskip("mido", reason="melody MIDI needs mido (pip install mido)")


def test_midi_tokens_midi_tokens_is_exact(tmp_path: Path) -> None:
    notes = [(0, 3, 60), (3, 4, 62), (6, 14, 64), (14, 16, 65), (16, 40, 67), (44, 47, 72)]
    first = read_midi(make_midi(notes), name="in.mid")
    tokens = first.tokens()
    assert first.length == 48  # padded to the bar line after the last note
    path = write_midi(tmp_path / "out.mid", tokens)
    again = read_midi(path)
    assert np.array_equal(again.tokens(), tokens)
    assert [(n.start, n.end, n.pitch) for n in again.notes] == notes
    assert first.messages == ()


def test_written_file_is_4_4_at_the_asked_tempo() -> None:
    data = midi_bytes(notes_to_tokens([Note(0, 32, 60)], 32), tempo_bpm=90)
    midi = mido.MidiFile(file=io.BytesIO(data))
    metas = {m.type: m for m in midi.tracks[0] if m.is_meta}
    assert (metas["time_signature"].numerator, metas["time_signature"].denominator) == (4, 4)
    assert round(mido.tempo2bpm(metas["set_tempo"].tempo)) == 90


def test_bad_output_settings_write_nothing(tmp_path: Path) -> None:
    with pytest.raises(AekitError, match="tempo"):
        write_midi(tmp_path / "out" / "x.mid", [41] * 32, tempo_bpm=0)
    assert not (tmp_path / "out").exists()


def test_windows_follow_the_time_signature_grid() -> None:
    melody = read_midi(make_midi(scale_notes(bars=4)))
    assert melody.bar_lines == (0, 16, 32, 48, 64)
    assert melody.windows().shape == (3, 32)


def test_a_pickup_measure_written_as_its_own_signature_is_kept() -> None:
    notes = [(0, 4, 67)] + [(4 + s, 8 + s, p) for s, _, p in scale_notes(bars=2)]
    melody = read_midi(make_midi(notes, signatures=[(0, 1, 4), (4, 4, 4)]))
    assert melody.bar_lines[:3] == (4, 20, 36)
    assert melody.windows().shape[0] == 1


def test_polyphony_keeps_the_top_line_and_says_so() -> None:
    melody_notes = scale_notes(bars=2, start_pitch=72)
    chords = [(0, 16, 48), (0, 16, 55), (16, 32, 50)]
    melody = read_midi(make_midi(melody_notes, extra_tracks=[chords]), name="song.mid")
    assert [n.pitch for n in melody.notes] == [p for _, _, p in melody_notes]
    assert melody.changes == ("polyphonic",)
    assert "song.mid: polyphonic; kept the top line (3 of" in melody.messages[0]


def test_off_grid_notes_are_resampled_and_said() -> None:
    # triplet eighths: 3 notes a beat, 160 ticks apart
    notes = [(i, i + 1, 60 + i % 5) for i in range(24)]
    melody = read_midi(make_midi(notes, step_ticks=160), name="trip.mid")
    assert melody.changes == ("resampled",)
    assert "resampled 16 of 24 note onsets" in melody.messages[0]


def test_notes_below_the_piano_move_up_by_octaves() -> None:
    low = [(s, e, p - 48) for s, e, p in scale_notes(bars=2)]  # 12..24
    melody = read_midi(make_midi(low), name="low.mid")
    assert min(n.pitch for n in melody.notes) == 12 + 12
    assert melody.changes == ("transposed",)
    assert "transposed up 1 octave" in melody.messages[0]


def _refusal(data: bytes) -> MelodyRefused:
    with pytest.raises(AekitError) as caught:
        read_midi(data, name="bad.mid")
    message = str(caught.value)
    assert "\n" not in message and message.startswith("bad.mid: ")
    assert isinstance(caught.value, MelodyRefused)
    return caught.value


def test_not_a_midi_file() -> None:
    assert _refusal(b"RIFF....WAVEfmt ").reason == "not MIDI"
    assert "not a MIDI file" in str(_refusal(b""))


def test_empty_and_drum_only_tracks() -> None:
    empty = _refusal(make_midi([]))
    assert empty.reason == "no notes" and "has no notes" in str(empty)
    drums = _refusal(make_midi(scale_notes(bars=2), channel=9))
    assert "only drums (channel 10)" in str(drums)


@pytest.mark.parametrize(("num", "den"), [(3, 4), (6, 8)])
def test_other_time_signatures_are_refused(num: int, den: int) -> None:
    refused = _refusal(make_midi(scale_notes(bars=3), signatures=[(0, num, den)]))
    assert refused.reason == "time signature" and f"{num}/{den}" in str(refused)


def test_two_two_is_accepted() -> None:
    melody = read_midi(make_midi(scale_notes(bars=2), signatures=[(0, 2, 2)]))
    assert len(melody.windows()) == 1
    assert (melody.time_signature, melody.ticks_per_beat) == ("2/2", 480)


def test_a_melody_shorter_than_two_bars() -> None:
    refused = _refusal(make_midi(scale_notes(bars=1)))
    assert isinstance(refused, NoWindowError) and "shorter than 2 bars" in str(refused)


def test_notes_that_no_octave_shift_fits_are_refused() -> None:
    wide = [(0, 16, 10), (16, 32, 120)]
    refused = _refusal(make_midi(wide))
    assert refused.reason == "pitch range" and "10..120" in str(refused)


def test_smpte_timing_and_type_2_are_refused() -> None:
    data = bytearray(make_midi(scale_notes(bars=2)))
    data[12:14] = (0xE7, 0x28)  # -25 frames per second, 40 ticks per frame
    assert "SMPTE" in str(_refusal(bytes(data)))
    data = bytearray(make_midi(scale_notes(bars=2)))
    data[8:10] = (0, 2)
    assert "type 2" in str(_refusal(bytes(data)))


def test_a_missing_file_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(AekitError, match="cannot read") as caught:
        read_midi(tmp_path / "nope.mid")
    assert "\n" not in str(caught.value)


def test_without_mido_the_error_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "mido", None)
    with pytest.raises(AekitError, match="needs mido: pip install mido"):
        read_midi(b"MThd")
