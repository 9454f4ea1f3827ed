"""The README's Python snippets run as written (DESIGN.md principle 10)."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_readme_has_python_snippets():
    assert python_blocks()


def test_readme_python_snippets_run(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    reports = []
    for block in python_blocks():
        scope = {"__name__": "readme"}
        exec(compile(block, str(README), "exec"), scope)  # noqa: S102
        reports += [v for v in scope.values() if type(v).__name__ == "EvalReport"]
    out = capsys.readouterr().out
    assert "PCA(8)" in out  # the snippet's report, beside its baseline
    assert (tmp_path / "runs" / "digits8" / "model.safetensors").is_file()
    assert reports  # every example ends with its model ahead of its baseline (issue 14)
    for report in reports:
        for name, theirs in report.baselines.items():
            assert report.metrics["mse"] < theirs["mse"], (name, report.metrics, theirs)
