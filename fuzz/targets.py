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
                good checkpoint; 4 load_run with the file as metrics.jsonl; 5 `--resume`
                with the file's tensors and metadata re-saved with a valid content hash (any
                hash it carries must hold), so mutations reach the code behind the hash;
                6 the same as checkpoint.prev.safetensors beside an unreadable newest one.
    arrays      0 a .npz, 1 a .npy through the --data loader (load_arrays)
    midi        0 read_midi on the bytes; 1 the same with bar markers (controller 110), as the
                folk corpus and users' ABC files arrive from abc2midi; 2 the reader of `aekit
                reconstruct` and `interpolate` (read_windows on a file), whose back-to-back
                windows are joined and encoded as the MIDI file it would write
"""

from __future__ import annotations

import atexit
import contextlib
import shutil
import tempfile
import urllib.parse
from collections.abc import Callable
from functools import cache
from pathlib import Path

from aekit.errors import AekitError

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
    from aekit.modalities.images.data.idx import read_idx

    return read_idx(_file("input.idx", data))


def image(data: bytes) -> object:
    from aekit.modalities.images.data.images import image_header, read_image

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
    "load_run, fuzzed metrics.jsonl", "resume, re-hashed", "resume from the previous, re-hashed",
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
    if mode in (5, 6):  # whatever parses is saved again with a good hash: fuzzing gets past it
        tensors, meta = ckpt.load_tensors(_file("input.safetensors", body))
        ckpt.save_tensors_atomic(run / ckpt.CHECKPOINT, tensors, meta)
    if mode == 6:  # the newest is unreadable: resume falls back on the previous checkpoint
        (run / ckpt.CHECKPOINT).replace(run / ckpt.PREVIOUS)
        (run / ckpt.CHECKPOINT).write_bytes(b"not a checkpoint")
    return _tiny_trainer(run).fit(tiny_images(), None, resume=True)


ARRAY_SUFFIXES = (".npz", ".npy")


def arrays(data: bytes) -> object:
    from aekit.modalities.images.data.local import load_arrays

    mode, body = _split(data, len(ARRAY_SUFFIXES))
    return load_arrays(_file(f"input{ARRAY_SUFFIXES[mode]}", body))


MIDI_MODES = ("read_midi", "read_midi, bar markers", "read_windows, joined and written back")


def midi(data: bytes) -> object:
    """A MIDI file as aekit reads it: a melody with at least one 2-bar window, or AekitError."""
    from aekit.modalities.melody.files import read_windows
    from aekit.modalities.melody.midi import BAR_MARKER_CC, midi_bytes, read_midi
    from aekit.modalities.melody.tokens import WINDOW, join_windows

    mode, body = _split(data, len(MIDI_MODES))
    if mode == 2:
        read = read_windows(_file("input.mid", body))
        assert read.windows.shape[1:] == (WINDOW,) and 1 <= len(read.windows) == read.total
        midi_bytes(join_windows(read.windows))
        return read
    melody = read_midi(body, name="fuzz.mid", bar_marker=BAR_MARKER_CC if mode else None)
    assert len(melody.windows()) > 0 and melody.tokens().shape == (melody.length,)
    return melody


SERVER_MODES = ("decode", "interpolate", "encode", "apply", "multipart", "query")
SERVER_RUN_SETTINGS = {  # conditional with a latent; a denoiser; an upscaler, which has none
    "cvae": ("cvae", {"model.latent_dim": 2}, ["model.channels=[4, 8]"]),
    "denoise": ("conv-ae", {"task.name": "denoise", "model.latent_dim": 3}, ["model.channels=[4]"]),
    "sr": ("sr", {"task.name": "superres", "task.scale": 2, "model.scale": 2}, ["model.width=4"]),
}
SERVER_RUNS = tuple(SERVER_RUN_SETTINGS)
APPLY_ACTIONS = ("", "reconstruct", "denoise", "upscale", "nonsense")
QUERY_PATHS = ("/api/random", "/api/scatter", "/api/test-image/", "/api/info")


def server(data: bytes) -> object:
    """Request bodies for `aekit serve` (server/app.py) on three tiny runs. Byte 0: the endpoint;
    byte 1: the run; for uploads, byte 2 sets the form fields and the rest is the file; for
    queries, byte 2 picks the path; otherwise the rest is the body (JSON for decode and
    interpolate, or a whole multipart body). A 4xx is a refusal; a 5xx, a 4xx whose detail is
    not one line, or an exception out of the app is a crash."""
    mode, rest = _split(data, len(SERVER_MODES))
    run, rest = _split(rest, len(SERVER_RUNS))
    client = _server_client(SERVER_RUNS[run])
    endpoint = SERVER_MODES[mode]
    if endpoint in ("decode", "interpolate"):
        headers = {"content-type": "application/json"}
        response = client.post(f"/api/{endpoint}", content=rest, headers=headers)
    elif endpoint in ("encode", "apply"):
        fields, body = _split(rest, 256)
        form = {"resize": ("true", "false", "1", "no")[fields & 3]}
        if fields & 4:
            form["label"] = str((fields >> 3 & 7) - 1)  # -1 .. 6
        if endpoint == "apply":
            form["action"] = APPLY_ACTIONS[(fields >> 5) % len(APPLY_ACTIONS)]
        elif fields & 0x80:
            form["index"] = str(fields >> 3 & 15)
        files = {"file": ("x.png", body, "image/png")}
        response = client.post(f"/api/{endpoint}", data=form, files=files)
    elif endpoint == "multipart":
        headers = {"content-type": "multipart/form-data; boundary=fuzz"}
        response = client.post("/api/apply", content=rest, headers=headers)
    else:
        which, body = _split(rest, len(QUERY_PATHS))
        path = QUERY_PATHS[which]
        sep = "" if path.endswith("/") else "?"
        # Percent-encoded: the client refuses URLs with control or non-ASCII characters itself.
        query = urllib.parse.quote(body.decode("latin-1"), safe="&=+-.,%")
        response = client.get(f"{path}{sep}{query}")
    if response.status_code >= 500:
        raise ServerError(f"HTTP {response.status_code} from {endpoint}: {response.text[:200]}")
    if response.status_code >= 400:
        detail = str(response.json().get("detail"))
        if "\n" in detail:
            raise ServerError(f"a {response.status_code} whose detail is not one line: {detail!r}")
        raise AekitRefusal(f"HTTP {response.status_code}: {detail}")
    return response


class ServerError(Exception):
    """A 5xx, or a 4xx whose message breaks the one-line rule: a crash."""


class AekitRefusal(AekitError):
    """A 4xx with a one-line detail: the server refused the request, as it should."""


PARSERS: dict[str, Callable[[bytes], object]] = {
    "idx": idx,
    "image": image,
    "config": config,
    "checkpoint": checkpoint,
    "arrays": arrays,
    "server": server,
    "midi": midi,
}


# ------------------------------------------------------------------ the tiny run for checkpoints


def tiny_run_config():
    from aekit.config import RunConfig, from_dict
    from aekit.modalities.images.tasks import TaskConfig
    from aekit.training.config import TrainConfig

    return RunConfig(
        model_name="ae",
        model=dict(TINY_MODEL),
        train=from_dict(TrainConfig, TINY_TRAIN),
        task=TaskConfig(),
    )


def tiny_images(n: int = 4):
    import numpy as np

    from aekit.modalities.images.data.splits import ImageSet

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


@cache
def _server_client(kind: str):
    """A TestClient over create_app on a tiny run trained here once (1 epoch, 16x16 shapes)."""
    import numpy as np
    from fastapi.testclient import TestClient

    from aekit.cli import build_run_config
    from aekit.runs import train_run
    from aekit.server.app import create_app

    data = scratch() / "server-shapes.npz"
    if not data.exists():
        rng = np.random.default_rng(0)
        images = np.zeros((96, 16, 16), np.uint8)
        labels = rng.integers(0, 3, 96)
        for i, label in enumerate(labels):  # a bright square whose size is the label
            top, left = rng.integers(0, 8, 2)
            images[i, top : top + 4 + 2 * label, left : left + 4 + 2 * label] = 200
        np.savez(data, x_train=images[:64], y_train=labels[:64], x_test=images[64:],
                 y_test=labels[64:])  # fmt: skip
    model, flags, overrides = SERVER_RUN_SETTINGS[kind]
    settings = {"data.name": str(data), "train.epochs": 1, "train.batch_size": 32,
                "train.precision": "fp32", **flags}  # fmt: skip
    run = scratch() / f"server-{kind}"
    shutil.rmtree(run, ignore_errors=True)
    train_run(build_run_config(model, None, settings, overrides), run, progress=False)
    return TestClient(create_app(run, limit=16), raise_server_exceptions=True)
