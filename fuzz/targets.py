"""The parsers under fuzzing, each as a function of one byte string.

Shared by the atheris driver (`python -m fuzz.run PARSER`), the replay of kept crash inputs
(tests/fuzz/test_corpus.py) and the hypothesis tests. A target returns normally when aekit
accepts the input and raises `AekitError` when it refuses it; any other exception, a hang or a
runaway allocation is a crash.

Inputs are what a user could hand aekit: the bytes of a file. Where one parser has several entry
points, the first byte picks one (``byte % n``) and the rest is the file, so a kept crash input
replays through the same door it came in by:

    idx         read_idx on the file (gzip is detected by magic bytes, so both kinds)
    image       image_header, read_image, then read_image to the other channel count at 7x5
    config      0 config.json and 1 config.toml via `aekit train MODEL --config FILE`;
                2 a run's config.json via load_run; 3 one ``--set key=value`` per line; the
                second byte picks MODEL. Accepted configs go on to build the model and task
                for 1x16x16 data, as `aekit train` does.
    checkpoint  0 load_tensors; 1 load_run with the file as model.safetensors; 2 `--resume`
                with the file as checkpoint.safetensors (Trainer.fit, which trains on if the
                checkpoint holds); 3 `--resume` with the file as model.safetensors beside a
                good checkpoint; 4 load_run with the file as metrics.jsonl.
    arrays      0 a .npz, 1 a .npy through the --data loader (load_arrays)
"""

from __future__ import annotations

import atexit
import contextlib
import shutil
import tempfile
from collections.abc import Callable
from functools import cache
from pathlib import Path

# Image pixel limit while fuzzing: the same check as the default 50M, but a mutated header that
# claims 7000x7000 pixels then costs milliseconds to refuse instead of a 200 MB decode.
FUZZ_MAX_PIXELS = 1 << 22
# Likewise the model size limit: configs asking for more are refused before anything is allocated,
# at 2**22 parameters as at the real 2**28, without spending a second initialising 2**27 of them.
FUZZ_MAX_PARAMETERS = 1 << 22

# The tiny model every checkpoint input is matched against: 1x4x4 images, 4-2-4 units.
TINY_MODEL = {"image_shape": [1, 4, 4], "hidden": [4], "latent_dim": 2, "loss": "mse"}
TINY_TRAIN = {
    "epochs": 2, "batch_size": 2, "precision": "fp32", "channels_last": False, "lr": 1e-3,
}  # fmt: skip


@cache
def scratch() -> Path:
    """One private directory for the whole process; every input overwrites the same files."""
    path = Path(tempfile.mkdtemp(prefix="aekit-fuzz-"))
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path


def _file(name: str, data: bytes) -> Path:
    path = scratch() / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def _split(data: bytes, n: int) -> tuple[int, bytes]:
    """(entry point 0..n-1 from the first byte, the file's bytes)."""
    return (data[0] % n, data[1:]) if data else (0, b"")


# ----------------------------------------------------------------------------------- targets


def idx(data: bytes) -> object:
    from aekit.data.idx import read_idx

    return read_idx(_file("input.idx", data))


def image(data: bytes) -> object:
    from aekit.data.images import image_header, read_image

    path = _file("input.png", data)
    channels, _, _ = image_header(path, FUZZ_MAX_PIXELS)
    first = read_image(path, max_pixels=FUZZ_MAX_PIXELS)
    other = 1 if channels == 3 else 3
    second = read_image(path, channels=other, size=(7, 5), max_pixels=FUZZ_MAX_PIXELS)
    assert first.dtype == second.dtype == "uint8" and second.shape == (other, 7, 5)
    return first


CONFIG_MODES = ("config.json", "config.toml", "run config.json", "--set lines")


def config(data: bytes) -> object:
    """First byte: the entry point; second byte: the model named on the command line."""
    from aekit.models import MODELS

    mode, rest = _split(data, len(CONFIG_MODES))
    choice, body = _split(rest, len(MODELS))
    model = list(MODELS)[choice]
    with small_models():
        return _config(mode, model, body)


def _config(mode: int, model: str, body: bytes) -> object:
    from aekit.cli import build_run_config
    from aekit.runs import build_for_data
    from aekit.training.checkpoint import load_run

    if mode == 2:
        run = _fresh_dir("config-run")
        (run / "config.json").write_bytes(body)
        return load_run(run)  # refuses at the latest for lack of model.safetensors
    if mode == 3:
        lines = body.decode("utf-8", errors="replace").splitlines()
        run_config = build_run_config(model, None, {}, lines)
    else:
        path = _file(f"input.{'json' if mode == 0 else 'toml'}", body)
        run_config = build_run_config(model, path, {}, [])
    return build_for_data(run_config, (1, 16, 16), num_classes=3)


CHECKPOINT_MODES = (
    "load_tensors", "load_run", "resume", "resume, fuzzed model.safetensors",
    "load_run, fuzzed metrics.jsonl",
)  # fmt: skip


def checkpoint(data: bytes) -> object:
    """load_tensors, load_run and `--resume` on a run of the tiny model; with resume, the
    other files of the run are good ones, so every input starts from the same state."""
    from aekit.training import checkpoint as ckpt

    mode, body = _split(data, len(CHECKPOINT_MODES))
    if mode == 0:
        return ckpt.load_tensors(_file("input.safetensors", body))
    run = _fresh_dir("tiny-run")
    (run / "config.json").write_text(_tiny_config_json())
    good_weights, good_checkpoint = _tiny_run_files()
    if mode in (1, 4):
        (run / ckpt.WEIGHTS).write_bytes(body if mode == 1 else good_weights)
        if mode == 4:
            (run / ckpt.METRICS).write_bytes(body)
        return ckpt.load_run(run)
    (run / ckpt.WEIGHTS).write_bytes(body if mode == 3 else good_weights)
    (run / ckpt.CHECKPOINT).write_bytes(good_checkpoint if mode == 3 else body)
    return _tiny_trainer(run).fit(tiny_images(), None, resume=True)


ARRAY_SUFFIXES = (".npz", ".npy")


def arrays(data: bytes) -> object:
    from aekit.data.local import load_arrays

    mode, body = _split(data, len(ARRAY_SUFFIXES))
    return load_arrays(_file(f"input{ARRAY_SUFFIXES[mode]}", body))


PARSERS: dict[str, Callable[[bytes], object]] = {
    "idx": idx,
    "image": image,
    "config": config,
    "checkpoint": checkpoint,
    "arrays": arrays,
}


# ------------------------------------------------------------------ the tiny run for checkpoints


def tiny_run_config():
    from aekit.config import RunConfig, TaskConfig, from_dict
    from aekit.training.config import TrainConfig

    return RunConfig(
        model_name="ae",
        model=dict(TINY_MODEL),
        train=from_dict(TrainConfig, TINY_TRAIN),
        task=TaskConfig(),
    )


def tiny_images(n: int = 4):
    import numpy as np

    from aekit.data.splits import ImageSet

    images = (np.arange(n * 16, dtype=np.int64).reshape(n, 1, 4, 4) * 37 % 256).astype(np.uint8)
    return ImageSet(images, None)


@contextlib.contextmanager
def small_models():
    import aekit.models

    saved, aekit.models.MAX_PARAMETERS = aekit.models.MAX_PARAMETERS, FUZZ_MAX_PARAMETERS
    try:
        yield
    finally:
        aekit.models.MAX_PARAMETERS = saved


def _fresh_dir(name: str) -> Path:
    path = scratch() / name
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


@cache
def _tiny_config_json() -> str:
    import json

    from aekit.config import to_dict

    return json.dumps(to_dict(tiny_run_config()))


@cache
def _tiny_run_files() -> tuple[bytes, bytes]:
    from fuzz.seeds import tiny_run_files

    return tiny_run_files()


def _tiny_trainer(run: Path):
    import torch

    from aekit.models import build_model
    from aekit.training.trainer import Trainer

    config = tiny_run_config()
    torch.manual_seed(0)
    model = build_model("ae", config.model)
    return Trainer(model, config.train, out_dir=run, progress=False, run_config=config)
