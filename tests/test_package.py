"""aekit as a real package: `python -m build` makes an sdist and a wheel, and the wheel works
installed into a fresh venv, run from outside the source tree: `aekit --version`, `datasets`,
`train` on digits, `serve` (its page is package data) and shell completion.

The build runs offline (`--no-isolation`: the dev extra installs `build` and setuptools) on a
copy of the checkout's top-level files and src/, so nothing is written into the checkout. The
fresh venv has no torch of its own: a .pth line adds this interpreter's site-packages after its
own, so the wheel is found first. (.pth files inside a directory that a .pth line adds are not
read, so the lead's editable install of the source tree stays out; aekit.__file__ proves it.)
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tarfile
import zipfile
from email.parser import Parser
from pathlib import Path

import httpx
import pytest

import aekit
from tests.conftest import served_url

ROOT = Path(__file__).resolve().parents[1]
if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


def package_files(src: Path) -> set[str]:
    """Every file of the aekit package under `src`, as a path inside a wheel."""
    return {
        str(path.relative_to(src))
        for path in (src / "aekit").rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }


def clean_env(**extra: str) -> dict[str, str]:
    """This environment without anything that would put the source tree on the path."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    return {**env, "DISPLAY": "", **extra}


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> dict[str, Path]:
    """One sdist and one wheel (built from the sdist, as `python -m build` does) per session."""
    done = subprocess.run([sys.executable, "-c", "import build"], capture_output=True)
    assert done.returncode == 0, "the dev extra's `build` is missing: make install"
    tree = tmp_path_factory.mktemp("checkout")
    for path in ROOT.iterdir():  # pyproject.toml, README.md, LICENSE, Makefile...
        if path.is_file():
            shutil.copy2(path, tree / path.name)
    shutil.copytree(
        ROOT / "src", tree / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info")
    )
    dist = tree / "dist"
    done = subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(dist), str(tree)],
        cwd=tree, env=clean_env(), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    (wheel,) = dist.glob("aekit-*.whl")
    (sdist,) = dist.glob("aekit-*.tar.gz")
    return {"wheel": wheel, "sdist": sdist, "src": tree / "src"}


@pytest.fixture(scope="module")
def venv(built, tmp_path_factory) -> Path:
    """A fresh venv holding the wheel, with this interpreter's packages (torch...) beneath it."""
    home = tmp_path_factory.mktemp("venv")
    venv = home / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True, env=clean_env(),
    ).stdout.strip()  # fmt: skip
    ours = [p for p in sys.path if Path(p).name in ("site-packages", "dist-packages")]
    assert ours, sys.path
    Path(site, "base-packages.pth").write_text("".join(f"{p}\n" for p in ours))
    done = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps",
         "--no-index", "--quiet", str(built["wheel"])],
        capture_output=True, text=True, env=clean_env(), timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return venv


def aekit_in(venv: Path, *args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(venv / "bin" / "aekit"), *args],
        cwd=cwd, env=clean_env(**env), capture_output=True, text=True, timeout=180,
    )  # fmt: skip


def test_the_wheel_holds_the_whole_package_and_the_sdist_builds_it(built):
    with zipfile.ZipFile(built["wheel"]) as wheel:
        names = set(wheel.namelist())
        (metadata,) = [n for n in names if n.endswith(".dist-info/METADATA")]
        meta = Parser().parsestr(wheel.read(metadata).decode())
        (entry_points,) = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
        scripts = wheel.read(entry_points).decode()
    # every module and data file (the explorer's page) and nothing else; built from the sdist,
    # so the sdist holds them too
    assert {n for n in names if n.startswith("aekit/")} == package_files(built["src"])
    assert {"aekit/server/static/index.html", "aekit/server/static/explorer.js"} <= names
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    assert meta["Version"] == aekit.__version__
    assert meta["License-Expression"] == "MIT"
    assert "aekit = aekit.cli.entry:main" in scripts
    with tarfile.open(built["sdist"]) as sdist:
        prefix = f"aekit-{aekit.__version__}"
        top = {Path(n).relative_to(prefix).as_posix() for n in sdist.getnames()}
    assert {"README.md", "LICENSE", "pyproject.toml"} <= top
    assert {f"src/{n}" for n in package_files(built["src"])} <= top


def test_the_installed_wheel_trains_and_serves_outside_the_source_tree(venv, tmp_path):
    where = subprocess.run(
        [venv / "bin" / "python", "-c", "import aekit, torch; print(aekit.__file__)"],
        cwd=tmp_path, env=clean_env(), capture_output=True, text=True,
    )  # fmt: skip
    assert where.returncode == 0, where.stderr
    assert Path(where.stdout.strip()).is_relative_to(venv), where.stdout  # not the source tree

    done = aekit_in(venv, "--version", cwd=tmp_path)
    assert (done.returncode, done.stdout) == (0, f"aekit {aekit.__version__}\n"), done.stderr

    done = aekit_in(venv, "datasets", cwd=tmp_path)
    assert done.returncode == 0 and re.search(r"^\s*digits\b", done.stdout, re.M), done

    run = tmp_path / "run"
    done = aekit_in(venv, "train", "ae", "--data", "digits", "--epochs", "1", "--threads", "1",
                    "--limit", "200", "--latent-dim", "4", "--no-progress", "--out", str(run),
                    cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert (run / "model.safetensors").is_file()
    assert f'"aekit_version": "{aekit.__version__}"' in (run / "config.json").read_text()

    serve = subprocess.Popen(
        [venv / "bin" / "aekit", "serve", str(run), "--port", "0", "--threads", "1"],
        cwd=tmp_path, env=clean_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        url = served_url(serve)
        assert httpx.get(url + "api/info", timeout=10).json()["model"] == "ae"
        page = httpx.get(url, timeout=10)
        assert page.status_code == 200 and "aekit explorer" in page.text
        script = httpx.get(url + "static/explorer.js", timeout=10)
        assert script.status_code == 200 and "api/info" in script.text
    finally:
        serve.send_signal(signal.SIGINT)
        serve.wait(20)
    assert serve.returncode == 0, serve.stderr.read()


def test_install_completion_writes_a_bash_completion_that_completes(venv, tmp_path):
    """`aekit --install-completion` detects bash (its parent), writes the script under HOME and
    sources it from ~/.bashrc; sourced, the script completes commands and options."""
    env = clean_env(HOME=str(tmp_path), PATH=f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}")
    done = subprocess.run(
        ["bash", "--norc", "-c", "aekit --install-completion; exit $?"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    script = tmp_path / ".bash_completions" / "aekit.sh"
    assert f"source '{script}'" in (tmp_path / ".bashrc").read_text()

    def complete(*words: str) -> list[str]:
        line = " ".join(f"'{w}'" for w in words)
        probe = (f"source '{script}'; COMP_WORDS=({line}); COMP_CWORD={len(words) - 1}; "
                 "_aekit_completion aekit; printf '%s\\n' \"${COMPREPLY[@]}\"")  # fmt: skip
        done = subprocess.run(["bash", "--norc", "-c", probe], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=120)  # fmt: skip
        assert done.returncode == 0, done.stderr
        return done.stdout.split()

    assert complete("aekit", "tr") == ["train"]
    assert {"datasets", "models", "train", "serve"} <= set(complete("aekit", ""))
    assert "--epochs" in complete("aekit", "train", "--ep")


def test_the_version_is_written_once_and_printed():
    """pyproject.toml reads aekit.__version__; `aekit --version` prints it (without torch:
    tests/test_startup.py)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "version" not in project["project"] and "version" in project["project"]["dynamic"]
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "aekit.__version__"}
    assert re.fullmatch(r"\d+\.\d+\.\d+", aekit.__version__)
    done = subprocess.run([sys.executable, "-m", "aekit", "--version"], capture_output=True,
                          text=True, cwd=ROOT)  # fmt: skip
    assert (done.returncode, done.stdout) == (0, f"aekit {aekit.__version__}\n"), done.stderr
