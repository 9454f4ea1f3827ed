"""Read a MIDI file into a checked, quantized melody; write tokens back as MIDI (with mido).

A MIDI file is untrusted input (a user's file, a fuzzer's bytes): any failure to parse it, and
anything aekit cannot turn into 2-bar windows of 4/4, is one `AekitError` line naming the file
and the offending value. What is fixed on the way is said, in `Melody.messages`:

- notes off the 16th-note grid (triplets, swing, played timing) are moved to the nearest 16th;
- polyphony (chords, several tracks) keeps the top line (`tokens.top_line`);
- notes outside the piano's 21..108 are moved by whole octaves when the melody fits, else refused.

Refused: not a MIDI file, type 2 (independent patterns), SMPTE timing (no beats), no notes or
drums only (channel 10), a time signature other than 4/4 or 2/2 where notes sound (a first
measure shorter than a bar is a pickup and allowed), a melody shorter than 2 bars or without two
complete bars in a row. Tempo is ignored: steps count beats, and tempo only changes seconds.

Bar lines come from the time signatures (a MIDI bar starts at each time signature event), or,
for files that abc2midi wrote from aekit's marked ABC (`corpus.py`), from marker controller
events at the notated bar lines, so pickups and partial bars at repeats are exact.
"""

from __future__ import annotations

import dataclasses
import io
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from aekit.atomic import atomic_write
from aekit.errors import AekitError, first_line
from aekit.modalities.melody.tokens import (
    FIRST_PITCH_TOKEN,
    MAX_PITCH,
    MIN_PITCH,
    STEPS_PER_BAR,
    STEPS_PER_BEAT,
    WINDOW,
    Note,
    cut_windows,
    fill_bar_lines,
    notes_to_tokens,
    tokens_to_notes,
    top_line,
    window_starts,
)

MAX_BYTES = 16 * 2**20  # melodies are kilobytes; a bigger "MIDI file" is something else
MAX_STEPS = 2**16  # 4096 bars: longer is not a melody, and would cost memory to tokenize
BAR_MARKER_CC = 110  # an undefined General MIDI controller: abc.py marks ABC bar lines with it
REST_PITCHES = (11, 12, 13)  # abc.py's rest placeholder note, dropped when reading marked MIDI
DRUM_CHANNEL = 9  # "channel 10" in General MIDI's 1-based numbering
OFF_GRID = 0.1  # an onset further than this (in steps) from a 16th is "resampled", not jitter
FOUR_FOUR = ((4, 4), (2, 2))  # both have 16 sixteenths a bar


def _mido() -> Any:
    """mido, imported when MIDI is first read or written, so a missing optional dependency is
    one line saying how to get it, not an import error for all of aekit's melody code."""
    try:
        import mido
    except ImportError:
        raise AekitError("reading and writing MIDI needs mido: pip install mido") from None
    return mido


class MelodyRefused(AekitError):
    """A melody aekit will not tokenize; `reason` is a short key for counting refusals."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class NoWindowError(MelodyRefused):
    """The melody is readable but has no complete 2-bar window (too short, or bars broken)."""

    def __init__(self, message: str) -> None:
        super().__init__("no 2-bar window", message)


@dataclass(frozen=True)
class Melody:
    """A monophonic melody on the 16th-note grid, with its bar lines, ready to tokenize."""

    name: str  # the file, for messages
    notes: tuple[Note, ...]  # monophonic, sorted, pitches in 21..108
    bar_lines: tuple[int, ...]  # steps where bars begin or end, ascending
    length: int  # steps: the last bar line at or after the last note's end
    messages: tuple[str, ...]  # what was changed on the way in, one line each
    changes: tuple[str, ...] = ()  # the same as keys: "resampled", "polyphonic", "transposed"
    time_signature: str = "4/4"  # "4/4" or "2/2": the first that sounds (both 16 steps a bar)
    ticks_per_beat: int = 0  # the file's resolution; 0 when not read from MIDI

    def tokens(self) -> np.ndarray:
        """(length,) uint8 tokens of the whole melody."""
        return notes_to_tokens(self.notes, self.length)

    def windows(self) -> np.ndarray:
        """(N, 32) uint8 windows starting on the bar line of each complete 2-bar stretch;
        silent ones (a rest of two bars) are left out, as they teach nothing about melody."""
        windows = cut_windows(self.notes, window_starts(self.bar_lines))
        return windows[(windows >= FIRST_PITCH_TOKEN).any(axis=1)]


@dataclass
class _Parsed:
    notes: list[tuple[int, int, int]]  # (on tick, off tick, pitch)
    signatures: dict[int, tuple[int, int]]  # tick -> (numerator, denominator)
    markers: set[int]  # ticks of bar marker events
    drum_notes: int


def read_midi(
    source: str | os.PathLike[str] | bytes,
    *,
    name: str | None = None,
    bar_marker: int | None = None,
) -> Melody:
    """Read, check and quantize a MIDI file (a path or its bytes). `bar_marker`: the controller
    number whose events mark bar lines (abc2midi output of marked ABC), else None."""
    label = name or (str(source) if not isinstance(source, bytes) else "MIDI data")
    data = _read_bytes(source, label)
    mido = _mido()
    try:
        midi = mido.MidiFile(file=io.BytesIO(data))
    except Exception as exc:  # mido fails in many ways on junk; all mean the same
        raise MelodyRefused("not MIDI", f"{label}: not a MIDI file ({first_line(exc)})") from None
    if midi.type == 2:
        raise MelodyRefused(
            "unsupported MIDI",
            f"{label}: MIDI type 2 (independent patterns) is not supported; use 0 or 1",
        )
    tpb = int(midi.ticks_per_beat)
    if tpb <= 0:
        raise MelodyRefused(
            "unsupported MIDI",
            f"{label}: uses SMPTE timing (division {tpb}), which has no beats to put on a "
            "16th-note grid; export it with ticks per quarter note",
        )
    parsed = _parse(midi, bar_marker, tpb, label)
    return _to_melody(parsed, tpb, label)


def _read_bytes(source: str | os.PathLike[str] | bytes, label: str) -> bytes:
    if isinstance(source, bytes):
        size = len(source)
    else:
        try:
            size = os.path.getsize(source)
        except OSError as exc:
            raise AekitError(f"{label}: cannot read ({exc.strerror or first_line(exc)})") from None
    if size > MAX_BYTES:
        raise MelodyRefused("too large", f"{label}: {size} bytes is too large for a melody file")
    if isinstance(source, bytes):
        return source
    try:
        return Path(source).read_bytes()
    except OSError as exc:
        raise AekitError(f"{label}: cannot read ({exc.strerror or first_line(exc)})") from None


def _parse(midi: Any, bar_marker: int | None, tpb: int, label: str) -> _Parsed:
    max_tick = MAX_STEPS * tpb // STEPS_PER_BEAT
    out = _Parsed([], {}, set(), 0)
    for track in midi.tracks:
        tick = 0
        sounding: dict[tuple[int, int], int] = {}  # (channel, pitch) -> on tick
        for msg in track:
            tick += msg.time
            if tick > max_tick:
                raise MelodyRefused(
                    "too long",
                    f"{label}: events run past {MAX_STEPS} 16th notes ({MAX_STEPS // 16} bars); "
                    "that is not a melody",
                )
            kind = msg.type
            if kind == "time_signature":
                out.signatures[tick] = (msg.numerator, msg.denominator)
            elif kind == "control_change" and msg.control == bar_marker:
                out.markers.add(tick)
            elif kind in ("note_on", "note_off"):
                if msg.channel == DRUM_CHANNEL:
                    out.drum_notes += kind == "note_on" and msg.velocity > 0
                    continue
                if bar_marker is not None and msg.note in REST_PITCHES:
                    continue  # a rest, played as a note only to keep abc2midi's timing right
                key = (msg.channel, msg.note)
                if key in sounding:  # an off, or a note struck again before its off
                    out.notes.append((sounding.pop(key), tick, msg.note))
                if kind == "note_on" and msg.velocity > 0:
                    sounding[key] = tick
        for (_, pitch), on in sounding.items():  # never released: it ends with its track
            out.notes.append((on, tick, pitch))
    return out


def _to_melody(parsed: _Parsed, tpb: int, label: str) -> Melody:
    if not parsed.notes:
        what = "only drums (channel 10)" if parsed.drum_notes else "no notes"
        raise MelodyRefused("no notes", f"{label}: has {what}; a melody needs pitched notes")
    per_step = tpb / STEPS_PER_BEAT  # ticks in a 16th note (may be fractional)
    onsets = [on / per_step for on, _, _ in parsed.notes]
    raw = [
        Note(quantize(on / per_step), quantize(off / per_step), p) for on, off, p in parsed.notes
    ]
    signatures = {quantize(t / per_step): sig for t, sig in sorted(parsed.signatures.items())}
    marks = {quantize(t / per_step) for t in parsed.markers} or None
    melody = build_melody(label, raw, onsets, signatures, marks)
    return dataclasses.replace(melody, ticks_per_beat=tpb)


def quantize(position: float) -> int:
    """The nearest 16th-note step to a position in steps (halves round up, as time goes)."""
    return math.floor(position + 0.5)


def build_melody(
    label: str,
    raw: list[Note],
    onsets: Sequence[float],
    signatures: dict[int, tuple[int, int]],
    marks: set[int] | None,
) -> Melody:
    """Check and tidy quantized notes into a `Melody`; shared by the MIDI reader and the music21
    fallback. `onsets`: the unquantized note starts (steps), to tell what was resampled;
    `signatures`: step -> (numerator, denominator); `marks`: notated bar lines, if known."""
    messages: list[str] = []
    changes: list[str] = []
    off_grid = sum(abs(on - quantize(on)) > OFF_GRID for on in onsets)
    if off_grid:
        messages.append(
            f"{label}: resampled {off_grid} of {len(onsets)} note onsets that were off the "
            "16th-note grid (triplets, swing or played timing) to the nearest 16th"
        )
        changes.append("resampled")
    raw = [Note(n.start, max(n.end, n.start + 1), n.pitch) for n in raw]
    notes, dropped = top_line(raw)
    if dropped:
        messages.append(
            f"{label}: polyphonic; kept the top line ({dropped} of {len(raw)} notes dropped)"
        )
        changes.append("polyphonic")
    notes, moved = _fit_range(notes, label)
    if moved:
        messages.append(moved)
        changes.append("transposed")
    end = notes[-1].end
    if end < WINDOW:
        raise NoWindowError(
            f"{label}: the melody is {end} 16th notes long, shorter than 2 bars ({WINDOW})"
        )
    _check_signatures(signatures, notes, label)
    if marks:  # the last mark may lie past the last note: a final bar of rest
        length = max(end, max(marks))
        lines = fill_bar_lines(marks, length)
    else:
        lines = _grid_bar_lines(signatures, end)
        length = max(lines[-1], end) if lines else end
    meter = next(
        (f"{n}/{d}" for _, (n, d) in sorted(signatures.items()) if (n, d) in FOUR_FOUR), "4/4"
    )
    melody = Melody(
        label, tuple(notes), tuple(lines), length, tuple(messages), tuple(changes), meter
    )
    if not len(melody.windows()):
        raise NoWindowError(
            f"{label}: no two complete 4/4 bars in a row to make a 2-bar window "
            f"({end} 16th notes, bar lines at {_brief(lines)})"
        )
    return melody


def _fit_range(notes: list[Note], label: str) -> tuple[list[Note], str]:
    lo, hi = min(n.pitch for n in notes), max(n.pitch for n in notes)
    if lo >= MIN_PITCH and hi <= MAX_PITCH:
        return notes, ""
    shift = 12 * math.ceil((MIN_PITCH - lo) / 12) if lo < MIN_PITCH else 0
    if hi > MAX_PITCH:
        shift = -12 * math.ceil((hi - MAX_PITCH) / 12)
    if not (lo + shift >= MIN_PITCH and hi + shift <= MAX_PITCH):
        raise MelodyRefused(
            "pitch range",
            f"{label}: notes span MIDI pitches {lo}..{hi}, which no octave shift fits into the "
            f"piano's {MIN_PITCH}..{MAX_PITCH}; refused",
        )
    octaves = abs(shift) // 12
    way = "up" if shift > 0 else "down"
    return [Note(n.start, n.end, n.pitch + shift) for n in notes], (
        f"{label}: transposed {way} {octaves} octave{'s' * (octaves > 1)}: its notes "
        f"{lo}..{hi} lay outside the piano's {MIN_PITCH}..{MAX_PITCH}"
    )


def _check_signatures(
    signatures: dict[int, tuple[int, int]], notes: list[Note], label: str
) -> None:
    """Refuse any signature but 4/4 and 2/2 over sounding notes; a first measure shorter than
    a 4/4 bar, followed by another signature, is a pickup (how MIDI writes one) and passes."""
    ticks = sorted(signatures)
    for i, at in enumerate(ticks):
        num, den = signatures[at]
        if (num, den) in FOUR_FOUR:
            continue
        until = ticks[i + 1] if i + 1 < len(ticks) else notes[-1].end
        if i == 0 and at == 0 and i + 1 < len(ticks) and until < STEPS_PER_BAR:
            continue  # a pickup measure
        if any(n.start < until and n.end > at for n in notes):
            raise MelodyRefused(
                "time signature",
                f"{label}: time signature {num}/{den} at 16th note {at}; only 4/4 and 2/2 "
                "melodies can be cut into 2-bar windows of 32 steps; refused",
            )


def _grid_bar_lines(signatures: dict[int, tuple[int, int]], end: int) -> list[int]:
    """Bar lines every 16 steps from each 4/4 or 2/2 signature (MIDI restarts the bar count at
    a signature event), up to the first bar line at or after `end`."""
    if 0 not in signatures:
        signatures = {0: (4, 4), **signatures}  # the MIDI default
    ticks = sorted(signatures)
    lines: set[int] = set()
    for i, at in enumerate(ticks):
        until = ticks[i + 1] if i + 1 < len(ticks) else None
        if signatures[at] not in FOUR_FOUR:
            if until is not None:
                lines.add(until)  # the next signature starts a bar
            continue
        stop = until if until is not None else at + -(-(end - at) // STEPS_PER_BAR) * 16
        lines.update(range(at, stop + 1, STEPS_PER_BAR))
    return sorted(lines)


def _brief(values: Sequence[int], most: int = 6) -> str:
    shown = ", ".join(map(str, values[:most]))
    return (shown + ", ...") if len(values) > most else (shown or "none")


def write_midi(
    path: str | os.PathLike[str],
    tokens: Sequence[int] | np.ndarray,
    *,
    tempo_bpm: float = 120.0,
    program: int = 0,
    velocity: int = 80,
    ticks_per_beat: int = 480,
) -> Path:
    """Write a token sequence as a type-0 MIDI file in 4/4 (atomically: no half-written file)."""
    data = midi_bytes(tokens, tempo_bpm=tempo_bpm, program=program, velocity=velocity,
                      ticks_per_beat=ticks_per_beat)  # fmt: skip
    target = Path(path)
    with atomic_write(target) as f:  # checked and encoded first: a bad setting writes nothing
        f.write(data)
    return target


def midi_bytes(
    tokens: Sequence[int] | np.ndarray,
    *,
    tempo_bpm: float = 120.0,
    program: int = 0,
    velocity: int = 80,
    ticks_per_beat: int = 480,
) -> bytes:
    """The bytes of the MIDI file `write_midi` writes."""
    if not (0 < tempo_bpm <= 1000 and 0 <= program <= 127 and 1 <= velocity <= 127):
        raise AekitError(
            f"MIDI output needs tempo in (0, 1000] bpm, program 0..127 and velocity 1..127; "
            f"got {tempo_bpm}, {program}, {velocity}"
        )
    if ticks_per_beat % STEPS_PER_BEAT:
        raise ValueError(f"ticks_per_beat must be a multiple of 4, got {ticks_per_beat}")
    per_step = ticks_per_beat // STEPS_PER_BEAT
    mido = _mido()
    track = mido.MidiTrack([
        mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(tempo_bpm), time=0),
        mido.MetaMessage("time_signature", numerator=4, denominator=4, time=0),
        mido.Message("program_change", program=program, time=0),
    ])  # fmt: skip
    events: list[tuple[int, int, int]] = []  # (tick, order, pitch): offs before ons at a tick
    for n in tokens_to_notes(tokens):
        events += [(n.start * per_step, 1, n.pitch), (n.end * per_step, 0, n.pitch)]
    now = 0
    for tick, order, pitch in sorted(events):
        kind = "note_on" if order else "note_off"
        track.append(mido.Message(kind, note=pitch, velocity=velocity, time=tick - now))
        now = tick
    track.append(mido.MetaMessage("end_of_track", time=len(tokens) * per_step - now))
    out = io.BytesIO()
    mido.MidiFile(type=0, ticks_per_beat=ticks_per_beat, tracks=[track]).save(file=out)
    return out.getvalue()
