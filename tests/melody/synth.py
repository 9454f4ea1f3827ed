"""Tiny melodies made in the test: MIDI bytes written with mido, ABC text for abc2midi."""

from __future__ import annotations

import io
import shutil

import pytest

mido = pytest.importorskip("mido", reason="melody MIDI needs mido (pip install mido)")

TPB = 480
STEP = TPB // 4  # ticks in a 16th note

needs_abc2midi = pytest.mark.skipif(
    shutil.which("abc2midi") is None, reason="abc2midi is not installed (apt-get install abcmidi)"
)


def midi_bytes(
    notes: list[tuple[int, int, int]],
    *,
    signatures: list[tuple[int, int, int]] = ((0, 4, 4),),
    channel: int = 0,
    tpb: int = TPB,
    step_ticks: float | None = None,
    file_type: int = 0,
    extra_tracks: list[list[tuple[int, int, int]]] = (),
) -> bytes:
    """A MIDI file of `notes` (start step, end step, pitch); `signatures` (step, num, den).
    Steps become ticks by `step_ticks` (default tpb / 4), so a test can put notes off the grid."""
    per = step_ticks if step_ticks is not None else tpb / 4
    tracks = []
    for i, part in enumerate([notes, *extra_tracks]):
        events = []
        if i == 0:
            for at, num, den in signatures:
                events.append((round(at * per), 0, mido.MetaMessage(
                    "time_signature", numerator=num, denominator=den, time=0)))  # fmt: skip
        for start, end, pitch in part:
            events.append((round(start * per), 2, mido.Message(
                "note_on", channel=channel, note=pitch, velocity=90, time=0)))  # fmt: skip
            events.append((round(end * per), 1, mido.Message(
                "note_off", channel=channel, note=pitch, velocity=0, time=0)))  # fmt: skip
        events.sort(key=lambda e: (e[0], e[1]))
        track, now = mido.MidiTrack(), 0
        for tick, _, msg in events:
            track.append(msg.copy(time=tick - now))
            now = tick
        tracks.append(track)
    if file_type == 0 and len(tracks) > 1:
        file_type = 1
    out = io.BytesIO()
    mido.MidiFile(type=file_type, ticks_per_beat=tpb, tracks=tracks).save(file=out)
    return out.getvalue()


def scale_notes(bars: int = 4, start_pitch: int = 60) -> list[tuple[int, int, int]]:
    """Quarter notes walking up a major scale and back, `bars` bars of 4/4."""
    degrees = [0, 2, 4, 5, 7, 9, 11, 12, 11, 9, 7, 5, 4, 2]
    return [(4 * i, 4 * i + 4, start_pitch + degrees[i % len(degrees)]) for i in range(4 * bars)]


PICKUP_ABC = """X:1
T:Pickup and rests
M:4/4
L:1/8
K:G
D|G2 B2 d2 z2|f2 a2 g2 z2|e2 c2 A2 F2|G6 z D|G2 B2 d2 g2|f2 a2 g4|]
"""


def wandering_notes(seed: int, bars: int = 6) -> list[tuple[int, int, int]]:
    """A tune of 8th, quarter and half notes wandering around middle C: tunes differ by seed."""
    import numpy as np

    rng = np.random.default_rng(seed)
    pitches = 60 + np.cumsum(rng.integers(-3, 4, 16 * bars)) % 12
    notes, t = [], 0
    while t < 16 * bars:
        d = int(rng.choice([2, 4, 4, 8]))
        notes.append((t, min(t + d, 16 * bars), int(pitches[len(notes)])))
        t += d
    return notes


def train_melody_run(root, tunes: int = 20, epochs: int = 1, lr: float = 1e-6):
    """A melody-vae run (tiny preset) on `tunes` synthetic MIDI tunes in root/tunes: root/run.

    The default barely moves the weights (lr 1e-6, one epoch: a few seconds): a near-random
    decoder writes busy melodies that change with every code and every previous token, so a
    test can tell free-running decoding from teacher-forced, and one code from another. A
    trained tiny model first learns to hold one note, which would hide both."""
    from pathlib import Path

    import torch

    from aekit.cli import build_run_config
    from aekit.runs import train_run

    root = Path(root)
    folder = root / "tunes"
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(tunes):
        (folder / f"t{i:02d}.mid").write_bytes(midi_bytes(wandering_notes(i)))
    flags = {"data.name": f"midi:{folder}", "train.epochs": epochs, "train.lr": lr}
    config = build_run_config("melody-vae", None, flags, ["task.name=identity"], "tiny")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a step-by-step LSTM on a shared machine: more threads only wait
    try:
        train_run(config, root / "run", progress=False, device="cpu")
    finally:
        torch.set_num_threads(threads)
    return root / "run"
