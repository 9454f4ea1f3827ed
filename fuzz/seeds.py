"""Small valid inputs for each fuzz target, generated rather than committed.

    python -m fuzz.seeds build/fuzz/seeds     # writes build/fuzz/seeds/<parser>/<name>

Each seed is in its target's input format (fuzz/targets.py): a leading entry-point byte where
the target has several. The hypothesis tests mutate the same seeds in memory.
"""

from __future__ import annotations

import dataclasses
import io
import json
import sys
from functools import cache
from pathlib import Path

import numpy as np


def idx_seeds() -> dict[str, bytes]:
    from aekit.modalities.images.data.idx import write_idx

    out: dict[str, bytes] = {}
    rng = np.random.default_rng(0)
    arrays = {
        "u8-images": rng.integers(0, 256, (2, 3, 3), dtype=np.uint8),
        "u8-labels": np.arange(5, dtype=np.uint8),
        "i16": np.array([[1, -2], [300, -400]], dtype=np.int16),
        "i32": np.array([7, -7], dtype=np.int32),
        "f32": np.array([0.5, -1.5, np.inf], dtype=np.float32),
        "f64": np.array([[np.pi]], dtype=np.float64),
        "empty": np.zeros((0, 2), dtype=np.uint8),
    }
    tmp = _tmp()
    for name, arr in arrays.items():
        for compress in (False, True):
            path = tmp / f"{name}{'.gz' if compress else ''}"
            write_idx(path, arr, compress=compress)
            out[path.name] = path.read_bytes()
    return out


def image_seeds() -> dict[str, bytes]:
    from PIL import Image

    rng = np.random.default_rng(0)
    gray = rng.integers(0, 256, (6, 5), dtype=np.uint8)
    rgb = rng.integers(0, 256, (6, 5, 3), dtype=np.uint8)
    images = {
        "gray.png": (Image.fromarray(gray), "PNG", {}),
        "rgb.png": (Image.fromarray(rgb), "PNG", {}),
        "rgba.png": (Image.fromarray(np.dstack([rgb, gray])), "PNG", {}),
        "la.png": (Image.fromarray(np.dstack([gray, gray])).convert("LA"), "PNG", {}),
        "palette.png": (Image.fromarray(rgb).convert("P"), "PNG", {}),
        "bilevel.png": (Image.fromarray(gray).convert("1"), "PNG", {}),
        "gray16.png": (Image.fromarray(gray.astype(np.uint16) * 257), "PNG", {}),
        "interlaced.png": (Image.fromarray(rgb), "PNG", {"interlace": 1}),
        "gray.jpg": (Image.fromarray(gray), "JPEG", {"quality": 90}),
        "rgb.jpg": (Image.fromarray(rgb), "JPEG", {"quality": 90}),
        "progressive.jpg": (Image.fromarray(rgb), "JPEG", {"progressive": True}),
    }
    out = {}
    for name, (im, fmt, options) in images.items():
        buffer = io.BytesIO()
        im.save(buffer, format=fmt, **options)
        out[name] = buffer.getvalue()
    return out


def config_seeds() -> dict[str, bytes]:
    from aekit.config import to_dict
    from aekit.models import MODELS
    from aekit.runs import default_run_config

    out = {}
    for index, name in enumerate(MODELS):
        text = json.dumps(to_dict(default_run_config(name)), indent=1).encode()
        out[f"{name}.json"] = bytes([0, index]) + text
        out[f"{name}-run.json"] = bytes([2, index]) + text
    out["small.toml"] = bytes([1, 1]) + (
        b'model_name = "conv-ae"\n[model]\nchannels = [4, 8]\nlatent_dim = 3\n'
        b'[train]\nepochs = 2\nlr = 1e-3\nschedule = "constant"\n'
        b'[task]\nname = "denoise"\nnoise = "gaussian:0.2"\n'
    )
    out["overrides.txt"] = bytes([3, 2]) + (
        b"train.lr=1e-3\nmodel.width=8\ntask.name=superres\ntask.scale=2\n"
        b"data.limit=null\ntrain.grad_clip=1.5\n"
    )
    return out


def checkpoint_seeds() -> dict[str, bytes]:
    weights, resume = tiny_run_files()
    return {
        "weights.safetensors": bytes([0]) + weights,
        "checkpoint.safetensors": bytes([0]) + resume,
        "load-run.safetensors": bytes([1]) + weights,
        "resume.safetensors": bytes([2]) + resume,
        "resume-weights.safetensors": bytes([3]) + weights,
        "metrics.jsonl": bytes([4]) + b'{"epoch": 1, "train_loss": 0.5, "lr": 0.001}\n',
        "resume-rehashed.safetensors": bytes([5]) + without_hash(resume),
        "resume-previous.safetensors": bytes([6]) + without_hash(resume),
    }


def without_hash(data: bytes) -> bytes:
    """The same safetensors file with only the "aekit" metadata (no content hash)."""
    from safetensors import safe_open
    from safetensors.torch import load, save

    path = _tmp() / "without-hash.safetensors"
    path.write_bytes(data)
    with safe_open(str(path), framework="pt") as f:
        meta = {"aekit": (f.metadata() or {}).get("aekit", "{}")}
    return save(load(data), metadata=meta)


@cache
def tiny_run_files() -> tuple[bytes, bytes]:
    """(model.safetensors, checkpoint.safetensors) of one epoch of the targets' tiny model."""
    import torch

    from aekit.models import build_model
    from aekit.training.trainer import Trainer
    from fuzz import targets

    run = _tmp() / "tiny-run"
    config = targets.tiny_run_config()

    torch.manual_seed(0)
    model = build_model("ae", config.model)
    train_config = dataclasses.replace(config.train, epochs=1)
    Trainer(model, train_config, out_dir=run, progress=False, run_config=config).fit(
        targets.tiny_images(), None
    )
    return (run / "model.safetensors").read_bytes(), (run / "checkpoint.safetensors").read_bytes()


def arrays_seeds() -> dict[str, bytes]:
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (3, 4, 4), dtype=np.uint8)
    y = np.array([0, 1, 0])
    sets = {
        "train-test.npz": {"x_train": x, "y_train": y, "x_test": x[:1], "y_test": y[:1]},
        "images-labels.npz": {"images": x.astype(np.float32) / 255, "labels": y},
        "single.npz": {"arr_0": x},
        "classes.npz": {"x": x, "y": y, "classes": np.array(["a", "b"])},
    }
    out = {}
    for name, arrays in sets.items():
        buffer = io.BytesIO()
        np.savez(buffer, **arrays)
        out[name] = bytes([0]) + buffer.getvalue()
    buffer = io.BytesIO()
    np.save(buffer, x)
    out["plain.npy"] = bytes([1]) + buffer.getvalue()
    buffer = io.BytesIO()
    np.savez_compressed(buffer, x=x)
    out["compressed.npz"] = bytes([0]) + buffer.getvalue()
    return out


def server_seeds() -> dict[str, bytes]:
    """A good request for each endpoint and run (byte 1: 0 cvae, 1 denoise, 2 sr; byte 2 the
    form fields or the query's path; see fuzz/targets.py)."""
    images = image_seeds()
    png = images["gray.png"]
    multipart = (
        b'--fuzz\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n'
        b"Content-Type: image/png\r\n\r\n" + png + b"\r\n--fuzz\r\n"
        b'Content-Disposition: form-data; name="resize"\r\n\r\ntrue\r\n--fuzz--\r\n'
    )
    return {
        "decode-cvae.json": bytes([0, 0]) + b'{"z": [0.5, -1.0], "label": 1}',
        "decode-denoise.json": bytes([0, 1]) + b'{"z": [0.1, 0.2, 0.3]}',
        "interpolate-cvae.json": bytes([1, 0]) + b'{"a": 0, "b": 3, "steps": 4, "spherical": true}',
        "encode-cvae-label-1.png": bytes([2, 0, 0b00010100]) + png,
        "encode-denoise-index-5": bytes([2, 1, 0b10101000]) + png,
        "apply-denoise.png": bytes([3, 1, 0b01000000]) + png,
        "apply-sr-upscale.png": bytes([3, 2, 0b01100000]) + images["rgb.png"],
        "apply-cvae-jpeg.jpg": bytes([3, 0, 0b00010100]) + images["gray.jpg"],
        "multipart-apply": bytes([4, 1]) + multipart,
        "query-random": bytes([5, 0, 0]) + b"seed=3&label=2",
        "query-scatter": bytes([5, 1, 1]) + b"limit=5",
        "query-test-image": bytes([5, 0, 2]) + b"7",
        "query-info": bytes([5, 2, 3]),
    }


def midi_seeds() -> dict[str, bytes]:
    """Small MIDI files of the kinds the reader meets, each through the entry point it suits
    (byte 0: 0 read_midi, 1 with bar markers, 2 the verbs' read_windows; fuzz/targets.py)."""
    from aekit.modalities.melody.midi import midi_bytes

    scale = [60, 62, 64, 65, 67, 69, 71, 72]
    tokens = np.zeros(64, dtype=np.uint8)
    tokens[::4] = [p - 19 for p in scale + scale[::-1]]  # quarter notes up and down, 4 bars
    written = midi_bytes(tokens)
    quarter = [(4 * i, 4 * i + 4, scale[i % 8]) for i in range(12)]  # 3 bars
    files = {
        "scale.mid": (0, written),
        "scale-windows.mid": (2, written),
        "pickup.mid": (
            2,
            _midi(
                [(0, 4, 67)] + [(s + 4, e + 4, p) for s, e, p in quarter],
                signatures=[(0, 1, 4), (4, 4, 4)],
            ),
        ),
        "chords-two-tracks.mid": (0, _midi(quarter, extra=[(0, 16, 48), (0, 16, 52)])),
        "drums.mid": (0, _midi(quarter, channel=9)),
        "waltz.mid": (0, _midi(quarter, signatures=[(0, 3, 4)])),
        "off-grid.mid": (0, _midi(quarter, step_ticks=131)),
        "marked.mid": (1, _midi(quarter, markers=[0, 16, 32, 48], rest=(44, 48))),
    }
    return {name: bytes([mode]) + data for name, (mode, data) in files.items()}


def _midi(
    notes: list[tuple[int, int, int]],
    *,
    signatures: list[tuple[int, int, int]] = ((0, 4, 4),),
    channel: int = 0,
    step_ticks: int = 120,
    extra: list[tuple[int, int, int]] = (),
    markers: list[int] = (),
    rest: tuple[int, int] | None = None,
) -> bytes:
    """A MIDI file (480 ticks a beat) of (start, end, pitch) notes in 16th-note steps; `extra`
    goes in a second track, `markers` are bar-marker controller events, `rest` a rest note."""
    import mido

    from aekit.modalities.melody.midi import BAR_MARKER_CC, REST_PITCHES

    def track(notes, first: bool) -> mido.MidiTrack:
        events = []
        if first:
            for at, num, den in signatures:
                events.append((at * step_ticks, 0, mido.MetaMessage(
                    "time_signature", numerator=num, denominator=den)))  # fmt: skip
            for at in markers:
                events.append((at * step_ticks, 0, mido.Message(
                    "control_change", control=BAR_MARKER_CC, value=1)))  # fmt: skip
            if rest is not None:
                notes = [*notes, (*rest, REST_PITCHES[0])]
        for start, end, pitch in notes:
            on = mido.Message("note_on", channel=channel, note=pitch, velocity=90)
            off = mido.Message("note_off", channel=channel, note=pitch, velocity=0)
            events += [(start * step_ticks, 2, on), (end * step_ticks, 1, off)]
        out, now = mido.MidiTrack(), 0
        for tick, _, message in sorted(events, key=lambda e: e[:2]):
            out.append(message.copy(time=tick - now))
            now = tick
        return out

    tracks = [track(notes, True)] + ([track(extra, False)] if extra else [])
    buffer = io.BytesIO()
    mido.MidiFile(type=len(tracks) - 1, ticks_per_beat=480, tracks=tracks).save(file=buffer)
    return buffer.getvalue()


SEEDS = {
    "idx": idx_seeds,
    "image": image_seeds,
    "config": config_seeds,
    "checkpoint": checkpoint_seeds,
    "arrays": arrays_seeds,
    "server": server_seeds,
    "midi": midi_seeds,
}


@cache
def _tmp() -> Path:
    import atexit
    import shutil
    import tempfile

    path = Path(tempfile.mkdtemp(prefix="aekit-seeds-"))
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path


def write_seeds(root: Path, parsers: list[str] | None = None) -> None:
    for parser in parsers or list(SEEDS):
        folder = root / parser
        folder.mkdir(parents=True, exist_ok=True)
        for name, data in SEEDS[parser]().items():
            (folder / name).write_bytes(data)


def main() -> None:
    root = Path(sys.argv[1] if len(sys.argv) > 1 else "build/fuzz/seeds")
    write_seeds(root, sys.argv[2:] or None)
    sizes = {p.name: sum(f.stat().st_size for f in p.iterdir()) for p in root.iterdir()}
    print(f"seeds in {root}: " + ", ".join(f"{k} {v} bytes" for k, v in sorted(sizes.items())))


if __name__ == "__main__":
    main()
