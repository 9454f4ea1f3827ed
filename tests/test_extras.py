"""Packaging: every package aekit imports is declared, optional parts are extras, and a missing
extra is one line that says what to install."""

from __future__ import annotations

import ast
import json
import re
import sys
from pathlib import Path

import pytest

from aekit.errors import AekitError
from aekit.extras import require

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
SERVE_LINE = "aekit: error: aekit serve needs the serve extra: pip install 'aekit[serve]'\n"

# import name -> distribution name, for every third-party package src/ imports.
DISTRIBUTIONS = {
    "torch": "torch", "numpy": "numpy", "safetensors": "safetensors", "typer": "typer",
    "tqdm": "tqdm", "PIL": "pillow", "sklearn": "scikit-learn", "skimage": "scikit-image",
    "scipy": "scipy", "matplotlib": "matplotlib", "tomli": "tomli",
    "fastapi": "fastapi", "starlette": "starlette", "pydantic": "pydantic",
    "pydantic_core": "pydantic-core",
    "uvicorn": "uvicorn", "python_multipart": "python-multipart",
    "swagger_ui_bundle": "swagger-ui-bundle-v2", "mido": "mido", "music21": "music21",
    "mlflow": "mlflow-skinny",
    "onnx": "onnx", "onnxscript": "onnxscript", "onnxruntime": "onnxruntime",
}  # fmt: skip
# Installed by the Makefile with --no-deps (the folk-tune corpus is data in its wheel; aekit
# imports it only as a slow fallback parser), so no extra declares it.
NO_DEPS = {"music21"}
# Where the serve extra's packages may be imported: nowhere a plain install runs.
SERVE_PLACES = ("aekit/server/", "aekit/cli/serve.py")
ONNX_PLACES = ("aekit/export/",)


def names(requirements: list[str]) -> set[str]:
    """Distribution names of requirement strings ("torch>=2.4,<3" -> "torch")."""
    return {re.match(r"[A-Za-z0-9._-]+", r).group().lower() for r in requirements}


def third_party_imports() -> dict[str, set[str]]:
    """import name -> the src/ files (relative to src/) that import it."""
    found: dict[str, set[str]] = {}
    for path in (ROOT / "src" / "aekit").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules = [node.module]
            else:
                continue
            for module in modules:
                top = module.split(".")[0]
                if top != "aekit" and top not in sys.stdlib_module_names:
                    found.setdefault(top, set()).add(str(path.relative_to(ROOT / "src")))
    return found


def test_require_returns_the_module_or_names_the_extra(monkeypatch):
    assert require("json", "serve", "aekit serve") is json
    monkeypatch.setitem(sys.modules, "fastapi", None)  # as if it were not installed
    with pytest.raises(AekitError) as caught:
        require("fastapi", "serve", "aekit serve")
    assert str(caught.value) == "aekit serve needs the serve extra: pip install 'aekit[serve]'"


@pytest.mark.parametrize("module", ["fastapi", "uvicorn", "python_multipart", "swagger_ui_bundle"])
def test_serve_without_its_extra_is_one_line(module, tmp_path, monkeypatch, run_cli):
    monkeypatch.setitem(sys.modules, module, None)
    code, out, err = run_cli("serve", tmp_path / "no-run-needed", "--no-open")
    assert (code, out, err) == (2, "", SERVE_LINE)  # before the run is read or a port taken


def test_every_imported_package_is_declared():
    project = PYPROJECT["project"]
    core = names(project["dependencies"])
    extras = {name: names(reqs) for name, reqs in project["optional-dependencies"].items()}
    imports = third_party_imports()
    unknown = sorted(set(imports) - set(DISTRIBUTIONS))
    assert not unknown, f"add {unknown} to pyproject.toml and to DISTRIBUTIONS here"
    for module, files in imports.items():
        dist = DISTRIBUTIONS[module]
        if dist in core or dist in NO_DEPS:
            continue
        optional = extras["serve"] | extras["music"] | extras["mlflow"] | extras["onnx"]
        assert dist in optional, f"{dist} ({sorted(files)}) undeclared"
        if dist in extras["serve"]:
            outside = sorted(f for f in files if not f.startswith(SERVE_PLACES))
            assert not outside, f"{module} is in the serve extra but imported by {outside}"
        if dist in extras["onnx"]:
            outside = sorted(f for f in files if not f.startswith(ONNX_PLACES))
            assert not outside, f"{module} is in the onnx extra but imported by {outside}"


def test_torch_is_a_range_and_the_optional_parts_are_extras():
    project = PYPROJECT["project"]
    (torch,) = [r for r in project["dependencies"] if names([r]) == {"torch"}]
    assert "==" not in torch and ">=2.4" in torch  # fused Adam/AdamW on CPU
    extras = project["optional-dependencies"]
    assert {"fastapi", "uvicorn", "python-multipart", "swagger-ui-bundle-v2"} <= names(
        extras["serve"]
    )
    assert not names(extras["serve"]) & names(project["dependencies"])
    assert names(extras["music"]) == {"mido"}
    assert extras["all"] == ["aekit[serve,music,track,onnx]"]
    # torch.utils.tensorboard (--log tensorboard) needs the tensorboard package; mlflow's client
    # is left out of `all` on purpose (pyproject.toml says why)
    assert names(extras["track"]) == {"tensorboard"}
    assert names(extras["mlflow"]) == {"mlflow-skinny"}
    assert names(extras["onnx"]) == {"onnx", "onnxscript", "onnxruntime"}
    assert {"pytest", "ruff"} <= names(extras["dev"])


def test_make_installs_the_pinned_cpu_torch_first_then_every_extra():
    recipe = (ROOT / "Makefile").read_text().split("\n$(STAMP):", 1)[1].split("\n\n", 1)[0]
    torch_line = recipe.index("pip install --quiet torch==2.13.0")
    assert torch_line < recipe.index("pip install --quiet -e '.[all,mlflow,dev]'")
