"""Shared fixtures: tiny, structured image data made on the fly (no dataset files needed)."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest


def shapes_images(n: int, size: int = 16, channels: int = 1, seed: int = 0):
    """n uint8 images (N, C, size, size) of one bright square or disc on a dark background,
    with labels 0 (square) / 1 (disc): structured enough that an autoencoder can learn it."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size]
    images = np.zeros((n, channels, size, size), dtype=np.uint8)
    labels = rng.integers(0, 2, size=n)
    for i in range(n):
        r = rng.uniform(size / 8, size / 4)
        cy, cx = rng.uniform(r, size - r, size=2)
        if labels[i] == 0:
            mask = (abs(yy - cy) <= r) & (abs(xx - cx) <= r)
        else:
            mask = (yy - cy) ** 2 + (xx - cx) ** 2 <= r**2
        for c in range(channels):
            images[i, c][mask] = rng.integers(150, 256)
    return images, labels.astype(np.int64)


def served_url(server: subprocess.Popen, wait: float = 60) -> str:
    """The URL an `aekit serve` subprocess prints on its first line (started with text pipes),
    waiting up to `wait` seconds; fails with its stderr when it printed none."""
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.append(server.stdout.readline()))
    reader.start()
    reader.join(wait)
    assert lines and lines[0], server.stderr.read() if server.poll() is not None else "silent"
    return re.search(r"http://127\.0\.0\.1:\d+/", lines[0]).group(0)


def shapes_npz(path: Path, n_train: int = 320, n_test: int = 64) -> Path:
    """A grayscale shapes set as an npz file (x_train, y_train, x_test, y_test) that
    `--data npz:...` or a bare path reads: the small set the launch and demo tests train on."""
    x, y = shapes_images(n_train, seed=1)
    xt, yt = shapes_images(n_test, seed=2)
    np.savez(path, x_train=x[:, 0], y_train=y, x_test=xt[:, 0], y_test=yt)
    return path


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test reads the user's AEKIT_DATA or mirrors, or writes to the real ~/.cache/aekit."""
    monkeypatch.delenv("AEKIT_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    for name in ("MNIST", "FASHION_MNIST", "KMNIST", "CIFAR10"):
        monkeypatch.delenv(f"AEKIT_MIRROR_{name}", raising=False)


@pytest.fixture
def tiny_npz(tmp_path: Path) -> Path:
    """A .npz dataset file: 320 training and 64 test images, 16x16 grayscale, labelled."""
    x_train, y_train = shapes_images(320, seed=1)
    x_test, y_test = shapes_images(64, seed=2)
    path = tmp_path / "shapes.npz"
    np.savez(path, x_train=x_train[:, 0], y_train=y_train, x_test=x_test[:, 0], y_test=y_test)
    return path


@pytest.fixture
def run_cli(monkeypatch, capsys):
    """Run the aekit CLI in-process: returns (exit code, stdout, stderr)."""
    from aekit.cli import main

    def run(*args: str) -> tuple[int, str, str]:
        monkeypatch.setattr(sys, "argv", ["aekit", *map(str, args)])
        try:
            main()
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        out, err = capsys.readouterr()
        return code, out, err

    return run
