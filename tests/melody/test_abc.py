"""ABC tunes: splitting files, marking bar lines, and abc2midi conversion on the beat."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from aekit.errors import AekitError
from aekit.modalities.melody import abc
from aekit.modalities.melody.corpus import convert_tunes
from aekit.modalities.melody.midi import MelodyRefused
from aekit.modalities.melody.tokens import tokens_to_notes
from tests.melody.synth import PICKUP_ABC, needs_abc2midi

TWO_TUNES = """%abc-2.1
% file header: applies to every tune
I:linebreak $

X:3
T:First
M:C|
L:1/4
K:C
CDEF|GABc|cBAG|FEDC|]

X:3
T:Second, same X
M:3/4
K:C
CDE|FGA|
"""


def test_split_tunes_keeps_the_file_header_and_numbers_by_position() -> None:
    tunes = abc.split_tunes(TWO_TUNES, "book.abc")
    assert [t.ident for t in tunes] == ["book.abc#1", "book.abc#2"]
    assert [t.title for t in tunes] == ["First", "Second, same X"]
    assert [abc.meter_key(t.meter) for t in tunes] == ["2/2", "3/4"]
    assert tunes[0].text.startswith("%abc-2.1\n% file header")
    assert "Second" not in tunes[0].text


METERS = [("C", "4/4"), ("4/4", "4/4"), ("C|", "2/2"), ("2/2", "2/2"), ("6/8", "6/8"), ("", "none")]


@pytest.mark.parametrize(("meter", "key"), METERS)
def test_meter_key(meter: str, key: str) -> None:
    assert abc.meter_key(meter) == key


def test_mark_bar_lines_leaves_fields_quotes_and_comments_alone() -> None:
    text = 'X:1\nM:4/4\nw:a|b\nK:G\n"G|D"A2 !trill!TB2 z2 [K:D] x2|:~c4 .d4:|\n%c|d\n'
    marked = abc.mark_bar_lines(text)
    mark, rest = abc._MARK, abc.REST_PLACEHOLDER
    assert marked.count(mark) == 2  # "|:" and ":|", not the | in w:, "G|D" or the comment
    assert marked.split("\n")[4] == f'"G|D"A2 B2 {rest}2 [K:D] {rest}2{mark}|:c4 d4{mark}:|'
    assert marked.split("\n")[2] == "w:a|b" and marked.endswith("%c|d\n")


def test_other_meters_are_refused_before_conversion() -> None:
    tune = abc.split_tunes(TWO_TUNES, "book.abc")[1]
    with pytest.raises(MelodyRefused, match="meter 3/4") as caught:
        abc.abc_to_melody(tune)
    assert caught.value.reason == "meter 3/4"


@needs_abc2midi
def test_a_pickup_and_rests_keep_windows_on_the_bar_lines() -> None:
    (tune,) = abc.split_tunes(PICKUP_ABC, "pickup.abc")
    melody = abc.abc_to_melody(tune)
    # the one-eighth pickup D takes 2 steps; bars end in rests that must not shift the lines
    assert melody.bar_lines == (2, 18, 34, 50, 66, 82, 98)
    windows = melody.windows()
    assert len(windows) == 5
    first = tokens_to_notes(windows[0])
    assert [(n.start, n.pitch) for n in first[:4]] == [(0, 67), (4, 71), (8, 74), (16, 78)]
    assert all(n.pitch >= 21 for n in melody.notes)  # the rest placeholders are gone


@needs_abc2midi
def test_a_meter_change_inside_a_tune_is_refused() -> None:
    text = "X:1\nM:4/4\nL:1/4\nK:C\nCDEF|GABc|[M:3/4]cBA|GFE|]\n"
    (tune,) = abc.split_tunes(text, "change.abc")
    with pytest.raises(MelodyRefused, match="time signature 3/4"):
        abc.abc_to_melody(tune)


@needs_abc2midi
def test_ornaments_and_staccato_play_as_the_written_notes() -> None:
    text = "X:1\nM:4/4\nL:1/4\nK:C\nTc2 ~d .e|!trill!g4|c4|c4|]\n"
    (tune,) = abc.split_tunes(text, "ornaments.abc")
    notes = [(n.start, n.end, n.pitch) for n in abc.abc_to_melody(tune).notes]
    assert notes == [(0, 8, 72), (8, 12, 74), (12, 16, 76), (16, 32, 79), (32, 48, 72),
                     (48, 64, 72)]  # fmt: skip


def test_without_abc2midi_or_a_working_music21_the_error_is_one_line(monkeypatch) -> None:
    monkeypatch.setattr(abc, "abc2midi_path", lambda: None)
    monkeypatch.setitem(sys.modules, "music21", None)  # import music21 now fails
    abc.require_music21.cache_clear()
    try:
        with pytest.raises(AekitError, match="abc2midi is not installed") as caught:
            convert_tunes(abc.split_tunes(PICKUP_ABC, "p.abc"), log=lambda line: None)
    finally:
        abc.require_music21.cache_clear()
    assert "\n" not in str(caught.value)


@needs_abc2midi
@pytest.mark.skipif(not abc.music21_available(), reason="music21 cannot import (no dependencies)")
def test_music21_fallback_finds_the_same_windows(monkeypatch) -> None:
    (tune,) = abc.split_tunes(PICKUP_ABC, "pickup.abc")
    fast = abc.abc_to_melody(tune).windows()
    said = []
    monkeypatch.setattr(abc, "abc2midi_path", lambda: None)
    slow = convert_tunes([tune], log=said.append).windows
    assert np.array_equal(slow, fast) and "music21's parser" in said[0]


@needs_abc2midi
def test_a_final_bar_of_rest_still_closes_the_last_window() -> None:
    (tune,) = abc.split_tunes("X:1\nM:4/4\nL:1/4\nK:C\nCDEF|GABc|c2 z2|]\n", "end.abc")
    melody = abc.abc_to_melody(tune)
    assert melody.bar_lines == (0, 16, 32, 48) and melody.length == 48
    assert len(melody.windows()) == 2
