"""Every aekit module imports alone: no import circles, whichever module a user imports first.

A circle between two aekit modules only shows when one of them is the first aekit module
imported (the other then sees a half-initialised module), so each module gets an interpreter in
which nothing of aekit is loaded yet. A fresh `python -c` per module would pay for torch ~100
times; instead one process loads the third-party packages once and forks a child per module,
whose `sys.modules` holds no aekit module when it imports its one.
"""

from __future__ import annotations

import importlib
import os
import sys
import traceback
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
# Modules that run something when imported: the entry script, tested through the CLI instead.
RUNS_ON_IMPORT = {"aekit.__main__"}


def every_module() -> list[str]:
    names = []
    for path in sorted((SRC / "aekit").rglob("*.py")):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        names.append(".".join(parts))
    return [n for n in names if n not in RUNS_ON_IMPORT]


def import_alone(module: str) -> str | None:
    """Import `module` in a forked child with no aekit module loaded; its error, or None."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: forget aekit, import one module, report, leave at once
        os.close(read)
        for name in [m for m in sys.modules if m == "aekit" or m.startswith("aekit.")]:
            del sys.modules[name]
        try:
            importlib.import_module(module)
            message = b""
        except BaseException:  # noqa: BLE001  (any failure is the finding)
            message = traceback.format_exc(limit=4).encode()
        os.write(write, message[-4000:])
        os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        message = pipe.read()
    _, status = os.waitpid(pid, 0)
    if status != 0:
        return f"the child importing {module} died with status {status}"
    return message.decode() or None


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_every_module_imports_alone():
    import numpy  # noqa: F401  (loaded once here, shared by every child)
    import torch  # noqa: F401

    modules = every_module()
    assert len(modules) > 60 and "aekit.training.trainer" in modules
    failures = {m: err for m in modules if (err := import_alone(m)) is not None}
    assert not failures, "\n\n".join(f"{m}:\n{err}" for m, err in failures.items())


def test_a_circle_would_be_caught(tmp_path, monkeypatch):
    """The probe itself: two modules importing names from each other fail when either is first."""
    package = tmp_path / "circle_probe"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from circle_probe.b import B\nA = 1\n")
    (package / "b.py").write_text("from circle_probe.a import A\nB = 2\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    error = import_alone("circle_probe.a")
    assert error is not None and "ImportError" in error
