"""Where aekit keeps what it downloads or builds, and the file hash it checks them with.

One copy for every modality: images cache downloaded sets, melodies the converted corpus.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path


def cache_root() -> Path:
    """``$XDG_CACHE_HOME/aekit`` (the XDG spec ignores a relative value), else ~/.cache/aekit."""
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    base = Path(xdg) if xdg and os.path.isabs(xdg) else Path.home() / ".cache"
    return base / "aekit"


def sha256_file(path: Path) -> str:
    """The SHA-256 of a file, read in 1 MiB blocks (datasets are too large to read whole)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
