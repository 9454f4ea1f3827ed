"""Tiny trained runs for the explorer's tests (image runs, and a melody run), trained once per
session and only when a test asks for one, and a real uvicorn server on 127.0.0.1 in a
background thread."""

from __future__ import annotations

import io
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.conftest import shapes_images

# name -> (model, flags, --set overrides): one of each kind of run the page treats differently
RUNS: dict[str, tuple[str, dict, list[str]]] = {
    "vae2": ("vae", {"model.latent_dim": 2, "model.hidden": [32]}, []),
    "cae5": ("conv-ae", {"model.latent_dim": 5}, ["model.channels=[8, 16]"]),
    "cvae": ("cvae", {"model.latent_dim": 2}, ["model.channels=[8, 16]"]),
    "denoise": ("conv-ae", {"task.name": "denoise", "task.noise": "gaussian:0.3",
                            "model.latent_dim": 4}, ["model.channels=[8, 16]"]),
    "sr": ("sr", {"task.name": "superres", "task.scale": 2, "model.scale": 2},
           ["model.width=8"]),
}  # fmt: skip


@pytest.fixture(scope="session")
def shapes_npz(tmp_path_factory) -> Path:
    """The same data as tests/conftest.py's tiny_npz, made once for the session."""
    x_train, y_train = shapes_images(320, seed=1)
    x_test, y_test = shapes_images(64, seed=2)
    path = tmp_path_factory.mktemp("data") / "shapes.npz"
    np.savez(path, x_train=x_train[:, 0], y_train=y_train, x_test=x_test[:, 0], y_test=y_test)
    return path


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory, shapes_npz) -> Callable[[str], Path]:
    """tiny_run(name) -> a run directory trained 1 epoch on 16x16 shapes (cached)."""
    from aekit.cli import build_run_config
    from aekit.runs import train_run

    root = tmp_path_factory.mktemp("runs")
    done: dict[str, Path] = {}

    def get(name: str) -> Path:
        if name not in done:
            model, flags, overrides = RUNS[name]
            settings = {"data.name": str(shapes_npz), "train.epochs": 1,
                        "train.batch_size": 32, "train.precision": "fp32", "data.limit": 32,
                        **flags}  # fmt: skip
            config = build_run_config(model, None, settings, overrides)
            train_run(config, root / name, progress=False)
            done[name] = root / name
        return done[name]

    return get


@pytest.fixture(scope="session")
def apps(tiny_run):
    """apps(name) -> the explorer app over tiny_run(name) (cached: loading encodes the test set)."""
    from aekit.server import create_app

    made = {}

    def get(name: str):
        if name not in made:
            made[name] = create_app(tiny_run(name))
        return made[name]

    return get


@pytest.fixture(scope="session")
def melody_run(tmp_path_factory) -> Path:
    """A melody-vae run on 20 synthetic tunes, trained once per session when asked for."""
    from tests.melody.synth import train_melody_run

    return train_melody_run(tmp_path_factory.mktemp("melody"))


@pytest.fixture(scope="session")
def melody_app(melody_run):
    from aekit.server import create_app

    return create_app(melody_run)


@pytest.fixture
def no_model_run(tiny_run, tmp_path) -> Path:
    """A run directory with its config.json but no model.safetensors."""
    run = tmp_path / "no-model"
    run.mkdir()
    shutil.copy(tiny_run("vae2") / "config.json", run / "config.json")
    return run


def png(array: np.ndarray) -> bytes:
    """(H, W) or (H, W, 3) uint8 -> PNG bytes."""
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def shape_png(size: int = 16, seed: int = 5) -> bytes:
    return png(shapes_images(1, size=size, seed=seed)[0][0, 0])


def read_png(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)))


def serve_in_thread(app) -> Iterator[str]:
    """Serve `app` with uvicorn on a free port of 127.0.0.1 (bound as `aekit serve` binds);
    yields the base URL and stops the server afterwards."""
    import uvicorn

    from aekit.cli.serve import bind, url_of

    sock = bind("127.0.0.1", 0)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield url_of(sock).rstrip("/")
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
