"""Melodies to look at and listen to: piano-roll PNGs, MIDI files and WAV through fluidsynth.

A piano roll puts each input above its output, bar lines drawn, so a wrong note shows as a bar
out of line. WAV comes from Debian's ``fluidsynth`` with a General MIDI soundfont
(``fluid-soundfont-gm``); without them the MIDI is still written and the missing audio is one
line, never an error: a report is not worth less for lacking sound.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import tempfile
import wave
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from aekit.atomic import atomic_write, temp_path_for
from aekit.modalities.melody.midi import write_midi
from aekit.modalities.melody.tokens import (
    HOLD,
    NOTE_OFF,
    STEPS_PER_BAR,
    STEPS_PER_BEAT,
    tokens_to_notes,
)

SOUNDFONTS = (
    "/usr/share/sounds/sf2/FluidR3_GM.sf2",
    "/usr/share/sounds/sf2/default-GM.sf2",
    "/usr/share/soundfonts/FluidR3_GM.sf2",
    "/usr/share/soundfonts/default.sf2",
    "/usr/share/sounds/sf2/TimGM6mb.sf2",
)
SAMPLE_RATE = 22050  # plenty for a melody, and half the size of 44.1 kHz
TIMEOUT_S = 60.0


def piano_roll(
    path: str | os.PathLike[str],
    melodies: Sequence[np.ndarray],
    labels: Sequence[str] | None = None,
    *,
    title: str | None = None,
) -> Path:
    """One piano roll per melody, stacked top to bottom, sharing a pitch axis; a PNG."""
    data = piano_roll_png(melodies, labels, title=title)
    target = Path(path)
    with atomic_write(target) as f:
        f.write(data)
    return target


def piano_roll_png(
    melodies: Sequence[np.ndarray],
    labels: Sequence[str] | None = None,
    *,
    title: str | None = None,
) -> bytes:
    """The PNG bytes `piano_roll` writes (a report embeds them; the explorer sends them)."""
    import matplotlib  # only for pictures: keep it out of import time

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not len(melodies):
        raise ValueError("piano_roll needs at least one melody")
    notes = [tokens_to_notes(np.asarray(m)) for m in melodies]
    pitches = [n.pitch for row in notes for n in row] or [60]
    lo, hi = min(pitches) - 2, max(pitches) + 2
    steps = max(len(m) for m in melodies)
    fig, axes = plt.subplots(
        len(melodies), 1, figsize=(max(6.0, steps / 6), 0.8 + 0.9 * len(melodies)), squeeze=False
    )
    try:
        for i, (ax, row) in enumerate(zip(axes[:, 0], notes, strict=True)):
            for n in row:
                ax.add_patch(plt.Rectangle((n.start, n.pitch - 0.4), n.end - n.start, 0.8, lw=0.5,
                                           facecolor="tab:blue", edgecolor="black"))  # fmt: skip
            for bar in range(0, steps + 1, STEPS_PER_BAR):
                ax.axvline(bar, color="gray", lw=0.8)
            ax.set_xlim(0, steps)
            ax.set_ylim(lo, hi)
            ax.set_yticks([p for p in range(lo, hi + 1) if p % 12 == 0])  # the Cs
            ax.set_yticklabels([f"C{p // 12 - 1}" for p in range(lo, hi + 1) if p % 12 == 0])
            ax.set_xticks([])
            if labels is not None:
                ax.set_ylabel(labels[i], rotation=0, ha="right", va="center", fontsize=8)
        if title:
            fig.suptitle(title, fontsize=9)
        fig.tight_layout()
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=80)
    finally:
        plt.close(fig)
    return buffer.getvalue()


def piano_roll_pairs(
    path: str | os.PathLike[str], inputs: np.ndarray, outputs: np.ndarray, **kw: str
) -> Path:
    """Each input above its output (reconstructions, repairs)."""
    if len(inputs) != len(outputs):
        raise ValueError(f"{len(inputs)} inputs but {len(outputs)} outputs")
    rows = [m for pair in zip(inputs, outputs, strict=True) for m in pair]
    labels = [f"{kind} {i}" for i in range(len(inputs)) for kind in ("in", "out")]
    return piano_roll(path, rows, labels, **kw)


def find_soundfont() -> Path | None:
    """$AEKIT_SOUNDFONT when set, else the first General MIDI soundfont Debian installs."""
    chosen = os.environ.get("AEKIT_SOUNDFONT")
    for candidate in ([chosen] if chosen else []) + list(SOUNDFONTS):
        if Path(candidate).is_file():
            return Path(candidate)
    return None


def audio_missing() -> str:
    """Why this machine cannot make WAV, in one line, or "" when it can."""
    if shutil.which("fluidsynth") is None:
        return "no audio: fluidsynth is not installed (apt-get install fluidsynth)"
    if find_soundfont() is None:
        return (
            "no audio: no General MIDI soundfont found (apt-get install fluid-soundfont-gm, "
            "or set AEKIT_SOUNDFONT)"
        )
    return ""


def midi_to_wav(
    midi: str | os.PathLike[str], wav: str | os.PathLike[str]
) -> tuple[Path | None, str]:
    """Render a MIDI file to WAV with fluidsynth: (the WAV, "") or (None, why not, one line)."""
    missing = audio_missing()
    if missing:
        return None, missing
    fluidsynth, soundfont = shutil.which("fluidsynth"), find_soundfont()
    target = Path(wav)
    tmp = temp_path_for(target)  # renamed over `target` only once fluidsynth has succeeded
    command = [fluidsynth, "-ni", "-T", "wav", "-F", str(tmp), "-r", str(SAMPLE_RATE),
               str(soundfont), str(midi)]  # fmt: skip
    try:
        done = subprocess.run(command, capture_output=True, timeout=TIMEOUT_S, check=False)
        if done.returncode != 0 or not tmp.is_file() or tmp.stat().st_size == 0:
            said = (done.stderr or done.stdout).decode("utf-8", "replace").strip().splitlines()
            return None, f"no audio: fluidsynth failed ({said[-1] if said else done.returncode})"
        os.replace(tmp, target)
    except subprocess.TimeoutExpired:
        return None, f"no audio: fluidsynth ran over {TIMEOUT_S:g} s on {midi}"
    finally:
        tmp.unlink(missing_ok=True)
    return target, ""


def write_melody(
    directory: str | os.PathLike[str], stem: str, tokens: np.ndarray, *, audio: bool = True
) -> tuple[dict[str, Path], str]:
    """Write ``stem.mid`` (always) and ``stem.wav`` (when fluidsynth can): (paths, message)."""
    out = Path(directory)
    paths = {"midi": write_midi(out / f"{stem}.mid", tokens)}
    if not audio:
        return paths, ""
    wav, message = midi_to_wav(paths["midi"], out / f"{stem}.wav")
    if wav is not None:
        paths["wav"] = wav
    return paths, message


# Clips rendered together are joined with this much silence between them, so one clip's
# release and reverb have died away before the next begins (16 steps: one bar, 2 s at 120 bpm).
CLIP_GAP_STEPS = STEPS_PER_BAR
CLIP_TAIL_S = 0.5  # kept after a clip's last step (the last note's release), then faded out
PEAK = 0.7  # of full scale (-3 dBFS): the loudest sample of a set of clips
FADE_S = 0.05  # a linear fade over the kept tail's end: a cut mid-waveform clicks


def wav_clips(
    melodies: Sequence[np.ndarray], *, tempo_bpm: float = 120.0
) -> tuple[list[bytes] | None, str]:
    """Each melody as the bytes of a mono 16-bit WAV at SAMPLE_RATE: (clips, "") or (None, why
    not, one line, as `midi_to_wav` says it).

    One fluidsynth call renders them all (loading the soundfont is most of its time): the
    melodies are joined with a bar of silence between them, rendered, and cut apart at their
    known times. Each clip is its melody plus CLIP_TAIL_S, scaled to PEAK, and mono (fluidsynth
    writes stereo at twice the size, and a melody has nothing to place left or right): a 2-bar
    window at 120 bpm is 4.5 s, about 200 kB, small enough to embed a few in a page."""
    if not len(melodies):
        return [], ""

    step_s = 60.0 / tempo_bpm / STEPS_PER_BEAT
    joined, starts = [], []
    for melody in melodies:
        starts.append(sum(len(part) for part in joined))
        joined += [np.asarray(melody, dtype=np.int64)]
        joined += [np.array([NOTE_OFF] + [HOLD] * (CLIP_GAP_STEPS - 1), dtype=np.int64)]
    with tempfile.TemporaryDirectory(prefix="aekit-audio-") as tmp:
        midi = write_midi(Path(tmp) / "clips.mid", np.concatenate(joined), tempo_bpm=tempo_bpm)
        wav, message = midi_to_wav(midi, Path(tmp) / "clips.wav")
        if wav is None:
            return None, message
        with wave.open(str(wav), "rb") as f:
            channels, width, rate = f.getnchannels(), f.getsampwidth(), f.getframerate()
            frames = f.readframes(f.getnframes())
    if width != 2:
        return None, f"no audio: fluidsynth wrote {8 * width}-bit samples, not 16-bit"
    samples = np.frombuffer(frames, dtype="<i2").reshape(-1, channels)
    mono = samples.astype(np.float32).mean(axis=1)
    # fluidsynth's default gain peaks a melody near -33 dBFS, too quiet beside other sound:
    # one gain for all the clips (their loudness relative to each other is kept) to PEAK.
    loudest = float(np.abs(mono).max()) if mono.size else 0.0
    if loudest > 0:
        mono *= PEAK * 32767 / loudest
    clips = []
    for start, melody in zip(starts, melodies, strict=True):
        first = round(start * step_s * rate)
        last = round(((start + len(melody)) * step_s + CLIP_TAIL_S) * rate)
        clip = np.zeros(last - first, dtype=np.float32)  # silence where fluidsynth stopped
        part = mono[first:last]
        clip[: len(part)] = part
        fade = min(len(clip), round(FADE_S * rate))
        if fade:
            clip[-fade:] *= np.linspace(1.0, 0.0, fade, dtype=np.float32)
        clips.append(wav_bytes(clip, rate))
    return clips, ""


def wav_bytes(samples: np.ndarray, rate: int) -> bytes:
    """Mono float samples on the int16 scale -> the bytes of a 16-bit PCM WAV file."""
    pcm = np.clip(np.rint(samples), -32768, 32767).astype("<i2")
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as f:
        f.setnchannels(1)
        f.setsampwidth(2)
        f.setframerate(rate)
        f.writeframes(pcm.tobytes())
    return buffer.getvalue()
