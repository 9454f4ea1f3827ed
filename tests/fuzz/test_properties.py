"""Property tests over every parser of untrusted files: any input gives a result or an AekitError.

The generated inputs are random bytes and, mostly, valid files (fuzz/seeds.py) broken in the ways
files break: flipped and overwritten bytes, truncation, inserted junk, header fields set to
extreme values (with checksums kept valid, so the damage reaches the code behind the check), and
for JSON and safetensors, structural edits re-serialised as well-formed files. They go through
the same entry points as the atheris harness (fuzz/targets.py). A few hundred examples each keep
this file to seconds; `make fuzz` runs the long campaign.
"""

from __future__ import annotations

import gzip
import io
import json
import math
import struct
import zlib
from functools import cache
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from safetensors.torch import load as st_load

from aekit.config import DataConfig, RunConfig, from_dict, to_dict
from aekit.errors import AekitError
from aekit.modalities.images.data.images import ImageTooLarge, read_image
from aekit.modalities.images.tasks import TaskConfig
from aekit.models import MODELS, build_model
from aekit.runs import default_run_config
from aekit.training import checkpoint as ckpt
from aekit.training.config import TrainConfig
from fuzz import seeds, targets
from tests.fuzz.strategies import SETTINGS, damaged, json_values, result_or_aekit_error

# ------------------------------------------------------------------------- byte-level damage


# ----------------------------------------------------------------------------------- IDX

IDX_DTYPES = [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64]
IDX_CODES = {np.dtype(d): c for d, c in zip(IDX_DTYPES, [8, 9, 11, 12, 13, 14], strict=True)}


@st.composite
def idx_files(draw) -> bytes:
    arr = draw(
        hnp.arrays(
            st.sampled_from(IDX_DTYPES),
            hnp.array_shapes(min_dims=1, max_dims=3, min_side=0, max_side=4),
        )
    )
    header = bytes([0, 0, IDX_CODES[arr.dtype], arr.ndim]) + struct.pack(
        f">{arr.ndim}I", *arr.shape
    )
    raw = header + arr.astype(arr.dtype.newbyteorder(">")).tobytes()
    if draw(st.booleans()):  # a header field set to anything at all
        field = draw(st.integers(0, 3 + arr.ndim))
        if field < 4:
            raw = raw[:field] + bytes([draw(st.integers(0, 255))]) + raw[field + 1 :]
        else:
            dim = struct.pack(">I", draw(st.integers(0, 2**32 - 1)))
            raw = raw[: 4 * field - 12] + dim + raw[4 * field - 8 :]
    raw = draw(damaged(raw, max_ops=2))
    if draw(st.booleans()):
        raw = gzip.compress(raw, mtime=0)
        raw = draw(damaged(raw, max_ops=2))
    return raw


@SETTINGS
@given(data=idx_files())
def test_idx_reader_on_damaged_files(data: bytes) -> None:
    arr = result_or_aekit_error(targets.idx, data)
    assert arr is None or isinstance(arr, np.ndarray)


@SETTINGS
@given(data=st.binary(max_size=300))
def test_idx_reader_on_random_bytes(data: bytes) -> None:
    result_or_aekit_error(targets.idx, data)


# --------------------------------------------------------------------------------- images


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def with_png_size(png: bytes, width: int, height: int) -> bytes:
    """A PNG whose IHDR claims width x height, with a correct CRC so decoders believe it."""
    ihdr = png[16:29]
    body = struct.pack(">II", width, height) + ihdr[8:]
    return png[:8] + png_chunk(b"IHDR", body) + png[33:]


def with_jpeg_size(jpeg: bytes, width: int, height: int) -> bytes:
    """A JPEG whose start-of-frame claims height x width."""
    for marker in (b"\xff\xc0", b"\xff\xc2"):
        at = jpeg.find(marker)
        if at >= 0:
            return jpeg[: at + 5] + struct.pack(">HH", height, width) + jpeg[at + 9 :]
    raise AssertionError("no SOF marker in the seed JPEG")


IMAGE_SEEDS = seeds.image_seeds()


@SETTINGS
@given(
    name=st.sampled_from(sorted(IMAGE_SEEDS)),
    data=st.data(),
)
def test_image_decoding_on_damaged_files(name: str, data: st.DataObject) -> None:
    damaged_file = data.draw(damaged(IMAGE_SEEDS[name], max_ops=4))
    result_or_aekit_error(targets.image, damaged_file)


@SETTINGS
@given(
    data=st.binary(max_size=300), magic=st.sampled_from([b"", b"\x89PNG\r\n\x1a\n", b"\xff\xd8"])
)
def test_image_decoding_on_random_bytes(data: bytes, magic: bytes) -> None:
    result_or_aekit_error(targets.image, magic + data)


@settings(SETTINGS, max_examples=100)
@given(
    name=st.sampled_from(sorted(n for n in IMAGE_SEEDS if n.endswith((".png", ".jpg")))),
    width=st.one_of(st.integers(0, 300), st.integers(0, 2**31 - 1)),
    height=st.one_of(st.integers(0, 300), st.integers(0, 2**31 - 1)),
)
def test_image_size_claims_are_checked_before_decoding(
    tmp_path: Path, name: str, width: int, height: int
) -> None:
    seed = IMAGE_SEEDS[name]
    if name.endswith(".png"):
        data = with_png_size(seed, width, height)
    else:
        assume(width < 2**16 and height < 2**16)  # a JPEG frame holds 16-bit sizes
        data = with_jpeg_size(seed, width, height)
    path = tmp_path / "claims.png"
    path.write_bytes(data)
    limit = 10_000
    try:
        read_image(path, max_pixels=limit)
    except ImageTooLarge:
        assert width * height > limit
    except AekitError as exc:
        assert "\n" not in str(exc)
        assert width * height <= limit or width * height == 0 or "too large" in str(exc)
    else:
        assert 0 < width * height <= limit


# --------------------------------------------------------------------------------- configs

CONFIG_CLASSES = [RunConfig, DataConfig, TaskConfig, TrainConfig] + [c for _, c in MODELS.values()]


def key_paths(data: dict, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """The path of every key in nested tables (tuples: generated keys may contain dots)."""
    paths = []
    for key, value in data.items():
        paths.append((*prefix, key))
        if isinstance(value, dict):
            paths += key_paths(value, (*prefix, key))
    return paths


def dotted_keys(data: dict) -> list[str]:
    return [".".join(path) for path in key_paths(data)]


@cache
def default_dicts() -> dict[str, dict]:
    return {name: to_dict(default_run_config(name)) for name in MODELS}


@st.composite
def edited_configs(draw) -> tuple[str, dict]:
    """(model, a default run config with a few keys set to anything, deleted or added)."""
    model = draw(st.sampled_from(list(MODELS)))
    data = json.loads(json.dumps(default_dicts()[model]))
    for _ in range(draw(st.integers(1, 4))):
        *parents, last = draw(st.sampled_from(key_paths(data) or [("model",)]))
        node = data
        for part in parents:
            node = node[part]
        if not isinstance(node, dict):
            continue
        action = draw(st.sampled_from(["set", "set", "set", "delete", "add"]))
        if action == "set":
            node[last] = draw(json_values())
        elif action == "delete":
            node.pop(last, None)
        else:
            node[draw(st.text(min_size=1, max_size=8))] = draw(json_values())
    return model, data


def config_input(mode: int, model: str, body: bytes) -> bytes:
    return bytes([mode, list(MODELS).index(model)]) + body


@settings(SETTINGS, max_examples=60)
@given(edited=edited_configs(), mode=st.sampled_from([0, 2]))
def test_config_files_with_edited_values(edited: tuple[str, dict], mode: int) -> None:
    model, data = edited
    body = json.dumps(data).encode()  # NaN and Infinity are written as JSON allows them
    result_or_aekit_error(targets.config, config_input(mode, model, body))


@SETTINGS
@given(
    model=st.sampled_from(list(MODELS)),
    mode=st.sampled_from([0, 1, 2]),
    text=st.one_of(
        st.text(max_size=200),
        st.builds(lambda v: json.dumps(v), json_values()),
        st.builds(lambda n, c: c * n, st.integers(1, 3000), st.sampled_from(["[", "{", '{"a":'])),
    ),
)
def test_config_files_of_random_text(model: str, mode: int, text: str) -> None:
    body = text.encode("utf-8", errors="surrogatepass")
    result_or_aekit_error(targets.config, config_input(mode, model, body))


@st.composite
def set_lines(draw, model: str) -> list[str]:
    keys = dotted_keys(default_dicts()[model])
    lines = []
    for _ in range(draw(st.integers(1, 4))):
        key = draw(st.one_of(st.sampled_from(keys), st.text(max_size=10)))
        value = draw(
            st.one_of(
                st.builds(json.dumps, json_values()),
                st.text(max_size=20),
                st.builds(lambda n: "[" * n, st.integers(1, 3000)),
                st.builds(lambda n: "9" * n, st.integers(4000, 4400)),
            )
        )
        lines.append(f"{key}={value}")
    return lines


@settings(SETTINGS, max_examples=60)
@given(data=st.data(), model=st.sampled_from(list(MODELS)))
def test_set_overrides(data: st.DataObject, model: str) -> None:
    lines = data.draw(set_lines(model))
    body = "\n".join(lines).encode("utf-8", errors="surrogatepass")
    result_or_aekit_error(targets.config, config_input(3, model, body))


@settings(SETTINGS, max_examples=60)
@given(
    cls=st.sampled_from(CONFIG_CLASSES),
    data=st.data(),
)
def test_from_dict_with_the_right_keys_and_any_values(cls: type, data: st.DataObject) -> None:
    import dataclasses

    names = [f.name for f in dataclasses.fields(cls)]
    raw = data.draw(
        st.dictionaries(st.one_of(st.sampled_from(names), st.text(max_size=6)), json_values())
    )
    with targets.small_models():
        try:
            config = from_dict(cls, raw)
            if cls in (c for _, c in MODELS.values()):
                name = next(n for n, (_, c) in MODELS.items() if c is cls)
                build_model(name, config)
        except AekitError as exc:
            assert "\n" not in str(exc)


# ----------------------------------------------------------------------------- checkpoints


@cache
def tiny_files() -> dict[str, bytes]:
    weights, resume = seeds.tiny_run_files()
    return {"weights": weights, "checkpoint": resume}


@settings(SETTINGS, max_examples=60)
@given(
    which=st.sampled_from(["weights", "checkpoint"]),
    mode=st.sampled_from([0, 1, 2, 3]),
    data=st.data(),
)
def test_checkpoints_with_damaged_bytes(which: str, mode: int, data: st.DataObject) -> None:
    body = data.draw(damaged(tiny_files()[which], max_ops=3))
    result_or_aekit_error(targets.checkpoint, bytes([mode]) + body)


@SETTINGS
@given(
    data=st.binary(max_size=200), prefix=st.sampled_from([b"", b"\x08\x00\x00\x00\x00\x00\x00\x00"])
)
def test_load_tensors_on_random_bytes(data: bytes, prefix: bytes) -> None:
    result_or_aekit_error(targets.checkpoint, b"\x00" + prefix + data)


def rewritten(tensors: dict[str, torch.Tensor], meta: dict) -> bytes:
    """A well-formed safetensors file (with aekit's metadata and content hash, if it has one)."""
    path = targets.scratch() / "rewritten.safetensors"
    ckpt.save_tensors_atomic(path, tensors, meta)
    return path.read_bytes()


def parsed(data: bytes) -> tuple[dict[str, torch.Tensor], dict]:
    from safetensors import safe_open

    path = targets.scratch() / "parsed.safetensors"
    path.write_bytes(data)
    with safe_open(str(path), framework="pt") as f:
        meta = json.loads((f.metadata() or {}).get("aekit", "{}"))
    return st_load(data), meta


@st.composite
def edited_tensors(draw, tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    out = dict(tensors)
    for _ in range(draw(st.integers(1, 3))):
        name = draw(st.sampled_from(sorted(out) or ["x"]))
        action = draw(st.sampled_from(["drop", "add", "reshape", "dtype", "values", "empty"]))
        value = out.get(name, torch.zeros(1))
        if action == "drop":
            out.pop(name, None)
        elif action == "add":
            out[
                draw(st.sampled_from(["model.extra", "optim.main.0.extra", "rng.x", name + "x"]))
            ] = torch.zeros(draw(st.integers(0, 3)))
        elif action == "reshape":
            out[name] = torch.zeros(draw(st.lists(st.integers(0, 5), max_size=3)))
        elif action == "dtype":
            dtype = draw(st.sampled_from([torch.int64, torch.uint8, torch.float16, torch.bool]))
            out[name] = value.to(dtype)
        elif action == "values":
            fill = draw(st.sampled_from([math.nan, math.inf, -1.0, 0.0, 1e30]))
            wide = value.to(torch.float64) if value.is_floating_point() else value
            out[name] = (
                torch.full_like(wide, fill) if value.is_floating_point() else value * 0
            ).to(value.dtype)
        else:
            out[name] = value.reshape(-1)[:0]
    return out


@st.composite
def edited_meta(draw, meta: dict) -> dict:
    data = json.loads(json.dumps(meta))
    for _ in range(draw(st.integers(1, 3))):
        paths = key_paths(data)
        if not paths:
            break
        *parents, last = draw(st.sampled_from(paths))
        node = data
        for part in parents:
            node = node[part]
        if draw(st.booleans()):
            node[last] = draw(json_values())
        else:
            node.pop(last)
    return data


@settings(SETTINGS, max_examples=50)
@given(data=st.data(), mode=st.sampled_from([1, 2, 3]), edit=st.sampled_from(["t", "m", "tm"]))
def test_checkpoints_with_edited_tensors_and_metadata(
    data: st.DataObject, mode: int, edit: str
) -> None:
    which = "weights" if mode in (1, 3) else "checkpoint"
    tensors, meta = parsed(tiny_files()[which])
    if "t" in edit:
        tensors = data.draw(edited_tensors(tensors))
    if "m" in edit:
        meta = data.draw(edited_meta(meta))
    result_or_aekit_error(targets.checkpoint, bytes([mode]) + rewritten(tensors, meta))


# ----------------------------------------------------------------------------------- arrays


@cache
def array_seeds() -> dict[str, bytes]:
    return seeds.arrays_seeds()


@SETTINGS
@given(name=st.sampled_from(sorted(array_seeds())), data=st.data())
def test_array_files_with_damaged_bytes(name: str, data: st.DataObject) -> None:
    seed = array_seeds()[name]
    result_or_aekit_error(targets.arrays, seed[:1] + data.draw(damaged(seed[1:], max_ops=3)))


@SETTINGS
@given(
    arrays=st.dictionaries(
        st.sampled_from(["x_train", "y_train", "x_test", "y_test", "images", "labels", "x", "y"]),
        hnp.arrays(
            st.sampled_from([np.uint8, np.int64, np.float32, np.float64, np.bool_, "U2"]),
            hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=3),
        ),
        min_size=1,
        max_size=4,
    )
)
def test_array_files_with_any_arrays(arrays: dict[str, np.ndarray]) -> None:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    result_or_aekit_error(targets.arrays, b"\x00" + buffer.getvalue())


def test_strategies_reach_the_code_behind_the_checks() -> None:
    """The seeds themselves are accepted, so damaged copies start from real, valid files."""
    for parser, make in seeds.SEEDS.items():
        accepted = 0
        for data in make().values():
            accepted += result_or_aekit_error(targets.PARSERS[parser], data) is not None
        assert accepted, parser


pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")
