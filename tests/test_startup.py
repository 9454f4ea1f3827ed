"""The cheap paths of the command line start without torch (seconds of import on a small CPU).

Each check runs in a fresh interpreter, since this test process has imported torch long ago.
benchmarks/startup.py measures what these paths cost.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HEAVY = (
    "torch",
    "fastapi",
    "uvicorn",
    "matplotlib",
    "sklearn",
    "skimage",
    "scipy",
    "onnx",
    "onnxruntime",
    "onnxscript",
)

# Runs each argv through `python -m aekit` in one interpreter, one after the other, and prints
# which heavy modules were loaded after each (imports only add up, so the first to load one is
# the culprit).
RUN_ALL = """
import json, runpy, sys
heavy = %r
report = {}
for argv in json.loads(sys.argv[1]):
    sys.argv = ["aekit", *argv]
    try:
        runpy.run_module("aekit", run_name="__main__", alter_sys=True)
    except SystemExit:
        pass
    report[" ".join(argv)] = sorted(m for m in heavy if m in sys.modules)
print("REPORT " + json.dumps(report))
"""


def loaded_after(*argvs: list[str]) -> dict[str, list[str]]:
    done = subprocess.run(
        [sys.executable, "-c", RUN_ALL % (HEAVY,), json.dumps(list(argvs))],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    line = [x for x in done.stdout.splitlines() if x.startswith("REPORT ")][-1]
    return json.loads(line[len("REPORT ") :])


def imported_by(statement: str) -> list[str]:
    code = f"import sys\n{statement}\nprint(sorted(m for m in {HEAVY!r} if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.replace("'", '"'))


@pytest.mark.parametrize(
    "statement",
    ["import aekit", "import aekit.cli", "import aekit.cli.entry", "from aekit.cli import main"],
)
def test_importing_the_cli_loads_no_heavy_package(statement):
    assert imported_by(statement) == []


def test_help_of_every_command_version_and_datasets_start_without_torch():
    from typer.main import get_command

    from aekit.cli.entry import app

    commands = list(get_command(app).commands)
    helps = [[name, "--help"] for name in commands]
    report = loaded_after(["--help"], ["--version"], ["datasets"], *helps)
    assert len(report) == len(commands) + 3
    assert report == {argv: [] for argv in report}


def test_the_probe_sees_torch_when_a_command_loads_it(tiny_npz, tmp_path):
    """The check above could pass by never looking: a dry run does load torch."""
    argv = ["train", "ae", "--data", str(tiny_npz), "--out", str(tmp_path / "r"), "--dry-run"]
    assert "torch" in loaded_after(argv)[" ".join(argv)]


def test_models_listing_starts_without_torch():
    assert loaded_after(["models"]) == {"models": []}
