"""Melodies to look at and listen to: piano-roll PNGs, MIDI files and WAV through fluidsynth.

A piano roll puts each input above its output, bar lines drawn, so a wrong note shows as a bar
out of line. WAV comes from Debian's ``fluidsynth`` with a General MIDI soundfont
(``fluid-soundfont-gm``); without them the MIDI is still written and the missing audio is one
line, never an error: a report is not worth less for lacking sound.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from aekit.atomic import atomic_path, temp_path_for
from aekit.modalities.melody.midi import write_midi
from aekit.modalities.melody.tokens import STEPS_PER_BAR, tokens_to_notes

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
    target = Path(path)
    with atomic_path(target) as tmp:
        fig.savefig(tmp, format="png", dpi=80)
    plt.close(fig)
    return target


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


def midi_to_wav(
    midi: str | os.PathLike[str], wav: str | os.PathLike[str]
) -> tuple[Path | None, str]:
    """Render a MIDI file to WAV with fluidsynth: (the WAV, "") or (None, why not, one line)."""
    fluidsynth = shutil.which("fluidsynth")
    if fluidsynth is None:
        return None, "no audio: fluidsynth is not installed (apt-get install fluidsynth)"
    soundfont = find_soundfont()
    if soundfont is None:
        return None, (
            "no audio: no General MIDI soundfont found (apt-get install fluid-soundfont-gm, "
            "or set AEKIT_SOUNDFONT)"
        )
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
