"""The folk-melodies cache, built from a tiny stand-in for music21's corpus directory."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from aekit.errors import AekitError
from aekit.modalities.melody import corpus
from aekit.modalities.melody.dataset import load_melodies
from tests.melody.synth import PICKUP_ABC, needs_abc2midi

OTHER = """X:7
T:Reel
M:C|
L:1/8
K:D
|:FAAB AFED|FAAB A2de|fedB AFEF|D2FD D4:|

X:8
T:Waltz
M:3/4
K:C
CDE|FGA|
"""


@pytest.fixture
def fake_corpus(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "music21-corpus"
    (root / "essenFolksong").mkdir(parents=True)
    (root / "oneills1850").mkdir()
    (root / "essenFolksong" / "a.abc").write_text(PICKUP_ABC)
    (root / "oneills1850" / "b.abc").write_text(OTHER)
    (root / "josquin").mkdir()  # not a folk collection: never read
    (root / "josquin" / "mass.abc").write_text("X:1\nM:C\nK:C\nCDEF|GABc|cBAG|FEDC|]\n")
    monkeypatch.setattr(corpus, "corpus_dir", lambda: root)
    return root


@needs_abc2midi
def test_build_then_reuse_the_cache(fake_corpus: Path) -> None:
    said: list[str] = []
    built = corpus.load_corpus(log=said.append)
    assert built.tune_ids == ("essenFolksong/a.abc#1", "oneills1850/b.abc#1")
    assert built.windows.dtype == np.uint8 and built.windows.shape[1] == 32
    assert np.bincount(built.tune).tolist() == [5, len(built.windows) - 5]
    m = built.manifest
    assert (m["tunes"], m["kept"], m["windows"]) == (3, 2, len(built.windows))
    assert m["skipped"] == {"meter 3/4": {"count": 1, "examples": ["oneills1850/b.abc#2"]}}
    assert m["collections"]["oneills1850"] == {"tunes": 2, "kept": 1, "windows": m["windows"] - 5}
    assert any("building folk-melodies: 3 ABC tunes" in line for line in said)

    where = corpus.cache_dir()
    assert where.parent.parent.name == "xdg-cache"  # under $XDG_CACHE_HOME/aekit/
    with np.load(where / "folk-melodies.npz", allow_pickle=False) as z:
        assert sorted(z.files) == ["tune", "windows"]
    said.clear()
    again = corpus.load_corpus(log=said.append)
    assert said == [] and np.array_equal(again.windows, built.windows)


@needs_abc2midi
def test_a_damaged_or_stale_cache_is_rebuilt(fake_corpus: Path) -> None:
    corpus.load_corpus(log=lambda line: None)
    npz = corpus.cache_dir() / "folk-melodies.npz"
    npz.write_bytes(npz.read_bytes()[:-10])
    said: list[str] = []
    corpus.load_corpus(log=said.append)
    assert "damaged (checksum mismatch); rebuilding" in said[0]
    manifest = corpus.cache_dir() / "manifest.json"
    data = json.loads(manifest.read_text())
    manifest.write_text(json.dumps({**data, "format": "0"}))
    said.clear()
    corpus.load_corpus(log=said.append)
    assert "from another version; rebuilding" in said[0]


@needs_abc2midi
def test_aekit_data_wins_over_the_user_cache(
    fake_corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AEKIT_DATA", str(tmp_path / "data"))
    corpus.load_corpus(log=lambda line: None)
    assert (tmp_path / "data" / "folk-melodies" / "manifest.json").is_file()


@needs_abc2midi
def test_load_melodies_splits_the_corpus_by_tune(fake_corpus: Path) -> None:
    data = load_melodies("folk-melodies", val_fraction=0.0, test_fraction=0.5, log=print)
    assert len(data.train) + len(data.test) == corpus.load_corpus().manifest["windows"]
    assert set(data.train.tune.tolist()).isdisjoint(data.test.tune.tolist())


def test_without_music21_the_error_says_how_to_get_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(corpus.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(AekitError, match="pip install --no-deps music21"):
        corpus.load_corpus()
