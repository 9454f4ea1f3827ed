"""Pictures and sound: PNG piano rolls, and MIDI without WAV when fluidsynth is missing."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from aekit.modalities.melody import render
from aekit.modalities.melody.midi import read_midi
from aekit.modalities.melody.tokens import Note, notes_to_tokens

TOKENS = notes_to_tokens([Note(0, 8, 60), Note(8, 12, 64), Note(16, 32, 67)], 32)


def test_piano_roll_pairs_write_a_png(tmp_path: Path) -> None:
    out = tmp_path / "out"
    path = render.piano_roll_pairs(out / "roll.png", TOKENS[None], TOKENS[None], title="t")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in out.iterdir()] == ["roll.png"]  # no temporary file left


def test_without_fluidsynth_midi_is_written_and_audio_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(render.shutil, "which", lambda name: None)
    paths, message = render.write_melody(tmp_path, "tune", TOKENS)
    assert set(paths) == {"midi"} and "fluidsynth is not installed" in message
    assert "\n" not in message
    assert np.array_equal(read_midi(paths["midi"]).tokens(), TOKENS)


def test_without_a_soundfont_audio_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(render.shutil, "which", lambda name: "/usr/bin/fluidsynth")
    monkeypatch.setattr(render, "SOUNDFONTS", ())
    monkeypatch.delenv("AEKIT_SOUNDFONT", raising=False)
    paths, message = render.write_melody(tmp_path, "tune", TOKENS)
    assert set(paths) == {"midi"} and "no General MIDI soundfont" in message


@pytest.mark.skipif(
    shutil.which("fluidsynth") is None or render.find_soundfont() is None,
    reason="fluidsynth and a GM soundfont are not installed (apt-get install fluidsynth "
    "fluid-soundfont-gm)",
)
def test_wav_through_fluidsynth(tmp_path: Path) -> None:
    paths, message = render.write_melody(tmp_path / "out", "tune", TOKENS)
    assert message == "" and paths["wav"].read_bytes()[:4] == b"RIFF"
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["tune.mid", "tune.wav"]


@pytest.mark.skipif(
    shutil.which("fluidsynth") is None or render.find_soundfont() is None,
    reason="fluidsynth and a GM soundfont are not installed",
)
def test_wav_clips_are_cut_apart_at_their_own_times() -> None:
    import io
    import wave

    silence = np.zeros(32, dtype=np.uint8)  # a 2-bar rest: its clip must be silent
    clips, message = render.wav_clips([TOKENS, silence, TOKENS[:16]])
    assert message == "" and len(clips) == 3
    sounds = []
    for clip in clips:
        with wave.open(io.BytesIO(clip)) as f:
            assert (f.getnchannels(), f.getsampwidth(), f.getframerate()) == (1, 2, 22050)
            sounds.append(np.frombuffer(f.readframes(f.getnframes()), dtype="<i2"))
    assert [len(s) / 22050 for s in sounds] == pytest.approx([4.5, 4.5, 2.5])
    peak = max(int(np.abs(s).max()) for s in sounds)
    assert peak == pytest.approx(render.PEAK * 32767, rel=0.01)  # scaled up from fluidsynth's
    assert np.abs(sounds[1]).max() < 0.01 * peak  # the rest before it died out in the gap
    assert np.abs(sounds[2][:2205]).max() > 0.1 * peak  # a note from its first 0.1 s
