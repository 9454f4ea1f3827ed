"""Every input that ever crashed a fuzzed parser stays fixed.

fuzz/corpus/<parser>/ holds the inputs `make fuzz` found crashing (crash-<sha1>, saved by
fuzz/run.py) and hand-made ones for crashes found otherwise (named after the bug). Each replays
through the same entry point it was found by (fuzz/targets.py) and must give a result or an
`AekitError` with a one-line message.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from aekit.errors import AekitError
from fuzz import targets

CORPUS = Path(__file__).resolve().parents[2] / "fuzz" / "corpus"
CASES = sorted(p for p in CORPUS.glob("*/*") if p.is_file())


def test_every_corpus_folder_names_a_parser() -> None:
    folders = {p.name for p in CORPUS.iterdir() if p.is_dir()}
    assert folders <= set(targets.PARSERS), folders - set(targets.PARSERS)


@pytest.mark.parametrize("path", CASES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_kept_input_gives_a_result_or_aekit_error(path: Path) -> None:
    try:
        targets.PARSERS[path.parent.name](path.read_bytes())
    except AekitError as exc:
        assert "\n" not in str(exc)
