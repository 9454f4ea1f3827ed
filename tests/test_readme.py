"""The README's Python snippets run as written (DESIGN.md principle 10), and each example ends
with its model ahead of its baseline (issue 14)."""

from __future__ import annotations

import re
from pathlib import Path

import torch

README = Path(__file__).resolve().parents[1] / "README.md"


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def run_snippets(tmp_path, monkeypatch) -> list:
    """Run every snippet in `tmp_path`; the EvalReports they leave behind."""
    monkeypatch.chdir(tmp_path)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a busy 2-core machine runs a small net fastest on one thread
    reports = []
    try:
        for block in python_blocks():
            scope = {"__name__": "readme"}
            exec(compile(block, str(README), "exec"), scope)  # noqa: S102
            reports += [v for v in scope.values() if type(v).__name__ == "EvalReport"]
    finally:
        torch.set_num_threads(threads)
    return reports


def test_readme_has_python_snippets():
    assert python_blocks()


def test_readme_python_snippets_run_and_end_ahead_of_their_baselines(tmp_path, monkeypatch, capsys):
    # Exactly as written, defaults included (1,000 steps on digits: about 30 s on one thread):
    # a newcomer's first result must show the model ahead of its baseline (issue 14).
    reports = run_snippets(tmp_path, monkeypatch)
    out = capsys.readouterr().out
    assert "PCA(8)" in out  # the snippet's report, beside its baseline
    assert (tmp_path / "runs" / "digits8" / "model.safetensors").is_file()
    assert reports
    for report in reports:
        for name, theirs in report.baselines.items():
            assert report.metrics["mse"] < theirs["mse"], (name, report.metrics, theirs)
