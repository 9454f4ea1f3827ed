"""ABC tunes to melodies: split files per tune, mark bar lines, convert with abc2midi.

abc2midi (Debian's ``abcmidi``, needs only libc) converts all of music21's ABC corpus in
seconds, where music21's own parser takes 20-30 minutes; music21 stays the fallback, slowly and
saying so. abc2midi's MIDI has no bar lines, and a tune with a pickup starts its first, partial
bar at tick 0, so counting bars from the start would put every window of such a tune a pickup's
length off the beat. So before converting, an inline ``[I:MIDI= control 110 1]`` goes in front of
every notated bar line (and rests become placeholder notes, see REST_PLACEHOLDER): abc2midi
plays it as a controller event at exactly that time, repeats included, and `midi.read_midi`
takes bar lines from those events. A pickup, or the partial bar
before a repeat, is then a stretch shorter than a bar and never starts a window.

Flags: ``-NGUI`` leaves out the accompaniment abc2midi would make from chord symbols, ``-NGRA``
grace notes (ornaments too short for a 16th grid, that would take time from the main note) and
``-NFER`` fermatas (which abc2midi plays longer, breaking the bar).
"""

from __future__ import annotations

import contextlib
import re
import secrets
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from aekit.errors import AekitError, first_line
from aekit.modalities.melody.midi import (
    BAR_MARKER_CC,
    Melody,
    MelodyRefused,
    Note,
    build_melody,
    quantize,
    read_midi,
)
from aekit.modalities.melody.tokens import STEPS_PER_BEAT

ABC2MIDI_FLAGS = ("-silent", "-NGUI", "-NGRA", "-NFER")
TIMEOUT_S = 20.0  # a tune converts in milliseconds; a stuck abc2midi must not stall a build
FOUR_FOUR_METERS = {"4/4": "4/4", "C": "4/4", "2/2": "2/2", "C|": "2/2"}
_MARK = f"[I:MIDI= control {BAR_MARKER_CC} 1]"
# abc2midi sends a pending rest's time with the next *note*, so a controller event after a rest
# comes out early, at the last note's end. Rests are therefore played as this note, far below
# any melody (MIDI 12, or 11/13 where the key or an accidental sharpens or flattens C), which
# read_midi drops again in marker mode. No accidental is written: abc2midi would carry it to
# the melody's own Cs in every octave for the rest of the bar.
REST_PLACEHOLDER = "C,,,,"
_FIELD = re.compile(r"^[A-Za-z+]:")
_DECORATIONS = frozenset("~.HIJKLMNOPQRSTUVWhijklmnopqrstuvw")  # shorthands, user letters
# A bar line: |, ||, |], [|, :|, |:, :|:, ::, with any variant ending digits left outside it.
_BAR = re.compile(r"\[\|[|\]:]*|:*\|[|\]:]*|::+")


@dataclass(frozen=True)
class AbcTune:
    """One tune of an ABC file, with the file's header lines in front (they apply to all)."""

    ident: str  # "<file label>#<ordinal>": X: numbers repeat in some files
    title: str
    meter: str  # the M: field as written ("C|", "4/4"), "" when none
    text: str  # file header + the tune, ready for abc2midi


def split_tunes(text: str, label: str) -> list[AbcTune]:
    """The tunes of an ABC file: each starts at an ``X:`` line and ends at a blank line."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    header: list[str] = []
    tunes: list[AbcTune] = []
    current: list[str] | None = None
    for line in [*lines, ""]:
        if line.startswith("X:"):
            if current:
                tunes.append(_tune(current, header, label, len(tunes) + 1))
            current = [line]
        elif current is None:
            header.append(line)
        elif line.strip() == "":
            tunes.append(_tune(current, header, label, len(tunes) + 1))
            current = None
        else:
            current.append(line)
    return tunes


def _tune(lines: list[str], header: list[str], label: str, ordinal: int) -> AbcTune:
    fields = {}
    for line in lines:
        if _FIELD.match(line) and line[0] not in fields:
            fields[line[0]] = line[2:].split("%", 1)[0].strip()
    text = "\n".join([*(h for h in header if h.strip()), *lines]) + "\n"
    return AbcTune(f"{label}#{ordinal}", fields.get("T", ""), fields.get("M", ""), text)


def meter_key(meter: str) -> str:
    """ "4/4" or "2/2" for the meters aekit keeps (C is 4/4, C| is 2/2), else the meter as
    written, for counting why tunes were left out."""
    compact = meter.replace(" ", "")
    return FOUR_FOUR_METERS.get(compact, compact or "none")


def mark_bar_lines(text: str) -> str:
    """`text` made ready for abc2midi: in the tune body (after ``K:``) a bar marker goes in front
    of every bar line, rests become `REST_PLACEHOLDER` notes, and decorations are dropped.

    Decorations (``!trill!``, ``T``, ``~`` rolls, ``.`` staccato, bowings, fingerings, user
    letters H-W and h-w) go because abc2midi performs them -- a trill as a run of short notes,
    staccato as a short note and a rest -- where the melody is the written note. Field lines,
    ``%`` comments, quoted chord symbols and annotations, and inline ``[X:...]`` fields are
    copied untouched: a ``|`` inside them is not a bar line.
    """
    out: list[str] = []
    in_body = False
    for line in text.split("\n"):
        if not in_body or _FIELD.match(line) or line.startswith("%"):
            in_body = in_body or line.startswith("K:")
            out.append(line)
            continue
        out.append(_mark_line(line))
    return "\n".join(out)


def _mark_line(line: str) -> str:
    pieces: list[str] = []
    i = 0
    while i < len(line):
        c = line[i]
        if c == "%":  # a comment to the end of the line
            pieces.append(line[i:])
            break
        if c in '"!+':  # "chord symbol or annotation", !decoration!, +old-style chord+
            close = line.find(c, i + 1)
            close = len(line) - 1 if close < 0 else close
            if c != "!":
                pieces.append(line[i : close + 1])
            i = close + 1
            continue
        if c == "[" and re.match(r"\[[A-Za-z]:", line[i:]):  # an inline field
            close = line.find("]", i)
            close = len(line) - 1 if close < 0 else close
            pieces.append(line[i : close + 1])
            i = close + 1
            continue
        bar = _BAR.match(line, i)
        if bar:
            pieces += [_MARK, bar.group()]
            i = bar.end()
            continue
        if c in _DECORATIONS and not line.startswith(".|", i):
            i += 1
            continue
        pieces.append(REST_PLACEHOLDER if c in "zx" else c)
        i += 1
    return "".join(pieces)


@cache
def abc2midi_path() -> str | None:
    return shutil.which("abc2midi")


def abc_to_melody(tune: AbcTune, workdir: Path | None = None) -> Melody:
    """One tune as a checked `Melody`: through abc2midi when installed, else music21's parser."""
    meter = meter_key(tune.meter)
    if meter not in ("4/4", "2/2"):
        raise MelodyRefused(
            f"meter {meter}",
            f"{tune.ident}: meter {tune.meter or 'none'}; only 4/4 (C) and 2/2 (C|) tunes make "
            "2-bar windows of 32 steps",
        )
    if abc2midi_path() is None:
        return music21_melody(tune)
    if workdir is None:
        with tempfile.TemporaryDirectory(prefix="aekit-abc2midi-") as tmp:
            return _abc2midi(tune, Path(tmp))
    return _abc2midi(tune, workdir)


def _abc2midi(tune: AbcTune, workdir: Path) -> Melody:
    stem = workdir / secrets.token_hex(8)  # unique, so threads can share one directory
    source, target = stem.with_suffix(".abc"), stem.with_suffix(".mid")
    try:
        source.write_text(mark_bar_lines(tune.text), encoding="utf-8")
        command = [abc2midi_path() or "abc2midi", str(source), "-o", str(target), *ABC2MIDI_FLAGS]
        try:
            done = subprocess.run(command, capture_output=True, timeout=TIMEOUT_S, check=False)
        except subprocess.TimeoutExpired:
            raise MelodyRefused(
                "abc2midi failed", f"{tune.ident}: abc2midi ran over {TIMEOUT_S:g} s"
            ) from None
        if done.returncode != 0 or not target.is_file():
            said = done.stderr.decode("utf-8", "replace").strip() or f"exit {done.returncode}"
            raise MelodyRefused(
                "abc2midi failed", f"{tune.ident}: abc2midi failed ({said.splitlines()[-1]})"
            )
        data = target.read_bytes()
    finally:
        source.unlink(missing_ok=True)
        target.unlink(missing_ok=True)
    return read_midi(data, name=tune.ident, bar_marker=BAR_MARKER_CC)


def music21_available() -> bool:
    try:
        require_music21()
    except AekitError:
        return False
    return True


@cache
def require_music21() -> Any:
    """The music21 module, or a one-line AekitError: installed with --no-deps (as aekit asks,
    for its corpus files only) it lacks the packages its parser imports."""
    try:
        import music21  # slow, optional, and only the fallback
    except Exception as exc:  # without its dependencies it fails in several ways
        raise AekitError(
            f"abc2midi is not installed and music21's ABC parser cannot run ({first_line(exc)}); "
            "install Debian's abcmidi (apt-get install abcmidi), or music21 with its dependencies"
        ) from None
    return music21


def music21_melody(tune: AbcTune) -> Melody:
    """The slow fallback: music21 parses the ABC; measures give the bar lines, offsets the
    notes (the highest of a chord), in quarter notes, 4 steps each."""
    m21 = require_music21()
    try:
        score = m21.converter.parse(tune.text, format="abc")
    except Exception as exc:  # a parser of untrusted text
        raise MelodyRefused(
            "music21 failed", f"{tune.ident}: music21 cannot parse it ({first_line(exc)})"
        ) from None
    parts = list(getattr(score, "parts", [])) or [score]
    for i, part in enumerate(parts):  # play repeats out, as abc2midi does
        with contextlib.suppress(Exception):  # malformed repeats: keep the part as written
            parts[i] = part.expandRepeats()
    raw: list[Note] = []
    onsets: list[float] = []
    marks: set[int] = set()
    signatures: dict[int, tuple[int, int]] = {}
    for part in parts:
        for element in part.recurse().notes:
            start = float(element.getOffsetInHierarchy(part)) * STEPS_PER_BEAT
            end = start + float(element.duration.quarterLength) * STEPS_PER_BEAT
            if end <= start:  # grace notes have no duration: left out, as with abc2midi -NGRA
                continue
            onsets.append(start)
            top = max(p.midi for p in element.pitches)
            raw.append(Note(quantize(start), quantize(end), top))
        for measure in part.getElementsByClass("Measure"):
            begin = float(measure.offset) * STEPS_PER_BEAT
            marks.update({quantize(begin), quantize(begin + float(measure.quarterLength) * 4)})
        for sig in part.recurse().getElementsByClass("TimeSignature"):
            at = quantize(float(sig.getOffsetInHierarchy(part)) * STEPS_PER_BEAT)
            signatures[at] = (int(sig.numerator), int(sig.denominator))
    if not raw:
        raise MelodyRefused("no notes", f"{tune.ident}: has no notes")
    return build_melody(tune.ident, raw, onsets, signatures, marks or None)
