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
    for block in python_blocks():
        exec(compile(block, str(README), "exec"), {"__name__": "readme"})  # noqa: S102
    out = capsys.readouterr().out
    assert "PCA(8)" in out  # the snippet's report, beside its baseline
    assert (tmp_path / "runs" / "digits8" / "model.safetensors").is_file()
