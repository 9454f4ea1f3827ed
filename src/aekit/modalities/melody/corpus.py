"""The ``folk-melodies`` data set: music21's bundled ABC folk corpus, as cached 2-bar windows.

The ``music21`` wheel ships Essen folksongs, O'Neill's 1850, Ryan's Mammoth, Aird's Airs and a
few more in ABC. Install it with ``pip install --no-deps music21``: aekit only finds the corpus
files (`importlib.util.find_spec`, without importing music21) and converts them with abc2midi
(`abc.py`). Every 4/4 and 2/2 tune becomes its distinct 2-bar windows (duplicates removed per
tune: AABB forms and expanded repeats would weigh phrases double).

The Essen collection's licence is unclear, so nothing derived from it is ever committed: the
windows are built once into the user's cache, ``$AEKIT_DATA/folk-melodies/`` when AEKIT_DATA is
set, else ``$XDG_CACHE_HOME/aekit/folk-melodies/`` (default ``~/.cache/aekit/``): a .npz of
uint8 arrays (loaded with ``allow_pickle=False``) and a JSON manifest saying what was counted,
kept and skipped, and why. A cache whose format, music21 version or checksum differs is rebuilt.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import os
import resource
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from aekit.atomic import atomic_write, write_json_atomic
from aekit.cache import cache_root, sha256_file
from aekit.errors import AekitError
from aekit.modalities.melody import abc
from aekit.modalities.melody.midi import MelodyRefused
from aekit.modalities.melody.tokens import VOCAB, WINDOW, dedupe

NAME = "folk-melodies"
FORMAT = 1  # bump when windows would come out differently, so old caches are rebuilt
# The folk collections of music21's corpus (its josquin/ ABC is Renaissance polyphony).
COLLECTIONS = (
    "essenFolksong", "oneills1850", "ryansMammoth", "airdsAirs", "miscFolk", "nottingham-dataset"
)  # fmt: skip
EXAMPLES = 10  # skipped tunes named per reason in the manifest

Log = Callable[[str], None]


def say(line: str) -> None:
    """The default log: one line to stderr, where the CLI's progress goes."""
    print(line, file=sys.stderr)


def data_root() -> Path:
    """``$AEKIT_DATA`` when set (a place of the user's choosing), else aekit's cache."""
    if os.environ.get("AEKIT_DATA"):
        return Path(os.environ["AEKIT_DATA"])
    return cache_root()


def corpus_dir() -> Path:
    """music21's corpus/ directory, found without importing music21 (that takes seconds and
    needs its dependencies, which aekit does not install)."""
    spec = importlib.util.find_spec("music21")
    where = [Path(p) / "corpus" for p in (spec.submodule_search_locations or [])] if spec else []
    found = next((p for p in where if p.is_dir()), None)
    if found is None:
        raise AekitError(
            f"{NAME} is built from the ABC corpus that ships in the music21 wheel, and music21 "
            "is not installed: pip install --no-deps music21"
        )
    return found


@dataclass(frozen=True)
class MelodyCorpus:
    """Windows of many tunes: ``windows[i]`` comes from ``tune_ids[tune[i]]``."""

    windows: np.ndarray  # (N, 32) uint8 tokens
    tune: np.ndarray  # (N,) int32 index into tune_ids
    tune_ids: tuple[str, ...]  # "<collection>/<file>#<ordinal>" or "<file>#<ordinal>"
    manifest: dict[str, Any]  # counts, skips and their reasons, versions
    location: str  # the cache file or the source file


@dataclass(frozen=True)
class _Outcome:
    ident: str
    windows: np.ndarray | None
    refusal: MelodyRefused | None
    changes: tuple[str, ...]


def _convert(tune: abc.AbcTune, workdir: Path) -> _Outcome:
    try:
        melody = abc.abc_to_melody(tune, workdir)
    except MelodyRefused as exc:
        return _Outcome(tune.ident, None, exc, ())
    return _Outcome(tune.ident, dedupe(melody.windows()), None, melody.changes)


@dataclass(frozen=True)
class Conversion:
    """What `convert_tunes` made: windows of the kept tunes, and who was refused or changed."""

    windows: np.ndarray  # (N, 32) uint8, distinct within each tune
    tune: np.ndarray  # (N,) int32 index into ids
    ids: tuple[str, ...]  # the kept tunes
    total: int  # tunes offered
    skipped: dict[str, list[str]]  # refusal reason -> tune ids, most common reason first
    changed: dict[str, list[str]]  # "resampled" / "polyphonic" / "transposed" -> tune ids
    messages: dict[str, str]  # tune id -> the line saying why it was refused


def convert_tunes(
    tunes: Iterable[abc.AbcTune], *, workers: int | None = None, log: Log = say
) -> Conversion:
    """Windows of every usable tune. Refused tunes are collected per reason; any other error
    (neither abc2midi nor a working music21) stops the conversion."""
    tunes = list(tunes)
    if abc.abc2midi_path() is None and tunes:
        abc.require_music21()  # fails in one line when neither converter can run
        log(
            f"abc2midi is not installed: converting {len(tunes)} tunes with music21's parser, "
            "which is slow (20-30 minutes for the whole corpus); apt-get install abcmidi is fast"
        )
    workers = workers or min(4, os.cpu_count() or 1)
    with (
        tempfile.TemporaryDirectory(prefix="aekit-abc2midi-") as tmp,
        ThreadPoolExecutor(max_workers=workers) as pool,  # abc2midi runs outside the GIL
    ):
        outcomes = list(pool.map(_convert, tunes, [Path(tmp)] * len(tunes)))
    rows: list[np.ndarray] = []
    owner: list[np.ndarray] = []
    ids: list[str] = []
    skipped: dict[str, list[str]] = {}
    changed: dict[str, list[str]] = {}
    messages: dict[str, str] = {}
    for out in outcomes:
        if out.refusal is not None:
            skipped.setdefault(out.refusal.reason, []).append(out.ident)
            messages[out.ident] = str(out.refusal)
            continue
        assert out.windows is not None
        for change in out.changes:
            changed.setdefault(change, []).append(out.ident)
        owner.append(np.full(len(out.windows), len(ids), dtype=np.int32))
        rows.append(out.windows)
        ids.append(out.ident)
    return Conversion(
        windows=np.concatenate(rows) if rows else np.zeros((0, WINDOW), np.uint8),
        tune=np.concatenate(owner) if owner else np.zeros(0, np.int32),
        ids=tuple(ids),
        total=len(tunes),
        skipped=dict(sorted(skipped.items(), key=lambda kv: -len(kv[1]))),
        changed=dict(sorted(changed.items())),
        messages=messages,
    )


def corpus_tunes(root: Path) -> list[abc.AbcTune]:
    """Every tune of the folk collections, in a fixed order (sorted paths, then file order)."""
    tunes: list[abc.AbcTune] = []
    for collection in COLLECTIONS:
        for path in sorted((root / collection).rglob("*.abc")):
            text = path.read_bytes().decode("utf-8", errors="replace")
            tunes += abc.split_tunes(text, path.relative_to(root).as_posix())
    return tunes


def _versions() -> dict[str, str]:
    try:
        music21 = importlib.metadata.version("music21")
    except importlib.metadata.PackageNotFoundError:
        music21 = "unknown"
    return {"format": str(FORMAT), "music21": music21}


def cache_dir() -> Path:
    return data_root() / NAME


def build_corpus(*, workers: int | None = None, log: Log = say) -> MelodyCorpus:
    """Convert the corpus and write the cache (.npz, then the manifest naming its checksum)."""
    root = corpus_dir()
    started, cpu_started = time.perf_counter(), _cpu_seconds()
    tunes = corpus_tunes(root)
    log(f"building {NAME}: {len(tunes)} ABC tunes from {root} (once; cached afterwards)")
    done = convert_tunes(tunes, workers=workers, log=log)
    windows, tune, ids = done.windows, done.tune, done.ids
    if not len(windows):
        raise AekitError(f"{NAME}: no tune of {root} gave a 2-bar window; the corpus is broken")
    per_collection: dict[str, Counter[str]] = {}
    for t in tunes:
        per_collection.setdefault(t.ident.split("/", 1)[0], Counter())["tunes"] += 1
    counts = np.bincount(tune, minlength=len(ids))
    for i, ident in enumerate(ids):
        c = per_collection[ident.split("/", 1)[0]]
        c["kept"] += 1
        c["windows"] += int(counts[i])
    target = cache_dir() / f"{NAME}.npz"
    with atomic_write(target) as f:
        np.savez(f, windows=windows, tune=tune)
    manifest = {
        **_versions(),
        "tunes": done.total,
        "kept": len(ids),
        "windows": len(windows),
        "skipped": {
            reason: {"count": len(who), "examples": who[:EXAMPLES]}
            for reason, who in done.skipped.items()
        },
        "changed": {change: len(who) for change, who in done.changed.items()},
        "converter": "abc2midi" if abc.abc2midi_path() else "music21",
        "source": str(root),
        "collections": {k: dict(v) for k, v in per_collection.items()},
        "seconds": round(time.perf_counter() - started, 1),
        "cpu_seconds": round(_cpu_seconds() - cpu_started, 1),  # ours + abc2midi's, all cores
        "npz_sha256": sha256_file(target),
        "tune_ids": list(ids),
    }
    write_json_atomic(cache_dir() / "manifest.json", manifest)
    log(
        f"{NAME}: {len(ids)} of {done.total} tunes kept, {len(windows)} windows, "
        f"{manifest['seconds']} s; cached in {cache_dir()}"
    )
    return MelodyCorpus(windows, tune, ids, manifest, str(target))


def load_corpus(
    *, rebuild: bool = False, workers: int | None = None, log: Log = say
) -> MelodyCorpus:
    """The cached corpus, built first when missing, stale or damaged."""
    if not rebuild:
        cached = _read_cache(log)
        if cached is not None:
            return cached
    return build_corpus(workers=workers, log=log)


def _read_cache(log: Log) -> MelodyCorpus | None:
    target = cache_dir() / f"{NAME}.npz"
    try:
        manifest = json.loads((cache_dir() / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None  # never built, or a manifest torn some other way: build
    if not isinstance(manifest, dict) or any(manifest.get(k) != v for k, v in _versions().items()):
        log(f"{NAME}: the cache in {cache_dir()} is from another version; rebuilding")
        return None
    try:
        if sha256_file(target) != manifest.get("npz_sha256"):
            raise ValueError("checksum mismatch")
        with np.load(target, allow_pickle=False) as z:
            windows, tune = z["windows"], z["tune"]
        ids = tuple(str(t) for t in manifest["tune_ids"])
        _check(windows, tune, len(ids))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log(f"{NAME}: the cache in {cache_dir()} is damaged ({exc}); rebuilding")
        return None
    return MelodyCorpus(windows, tune, ids, manifest, str(target))


def _check(windows: np.ndarray, tune: np.ndarray, n_ids: int) -> None:
    if windows.dtype != np.uint8 or windows.ndim != 2 or windows.shape[1] != WINDOW:
        raise ValueError(f"windows are {windows.dtype} {windows.shape}, not uint8 (N, {WINDOW})")
    if tune.shape != (len(windows),) or tune.dtype != np.int32:
        raise ValueError(f"tune index is {tune.dtype} {tune.shape}")
    if len(windows) and (windows.max() >= VOCAB or tune.min() < 0 or tune.max() >= n_ids):
        raise ValueError("tokens or tune indices out of range")


def _cpu_seconds() -> float:
    """CPU time of this process and its finished children (the abc2midi runs): wall time on a
    busy machine says little about the work."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime
