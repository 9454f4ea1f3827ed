"""IDX reader/writer: round trips, every kind of broken file, and two property tests."""

from __future__ import annotations

import contextlib
import gzip
import struct
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from aekit.errors import AekitError
from aekit.modalities.images.data.idx import MAX_DATA_BYTES, read_idx, write_idx

DTYPES = [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64]


def header(code: int, shape: tuple[int, ...]) -> bytes:
    return bytes([0, 0, code, len(shape)]) + struct.pack(f">{len(shape)}I", *shape)


def raises_one_line(path: Path, match: str) -> AekitError:
    with pytest.raises(AekitError, match=match) as info:
        read_idx(path)
    message = str(info.value)
    assert "\n" not in message
    assert str(path) in message
    return info.value


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ["a.idx", "a.idx.gz"])
def test_round_trip_every_dtype(tmp_path: Path, dtype: type, name: str) -> None:
    rng = np.random.default_rng(0)
    arr = (rng.standard_normal((3, 4, 5)) * 100).astype(dtype)
    write_idx(tmp_path / name, arr)
    back = read_idx(tmp_path / name)
    assert back.dtype == np.dtype(dtype) and back.dtype.isnative
    np.testing.assert_array_equal(back, arr)
    assert back.flags.writeable


def test_written_bytes_are_big_endian_mnist_layout(tmp_path: Path) -> None:
    arr = np.array([[1, 2], [3, 258]], dtype=np.int16)
    write_idx(tmp_path / "x", arr)
    assert (tmp_path / "x").read_bytes() == header(0x0B, (2, 2)) + bytes([0, 1, 0, 2, 0, 3, 1, 2])


def test_gzip_is_detected_by_magic_not_name(tmp_path: Path) -> None:
    arr = np.arange(12, dtype=np.uint8).reshape(3, 4)
    write_idx(tmp_path / "gz-without-suffix", arr, compress=True)
    write_idx(tmp_path / "raw-with-suffix.gz", arr, compress=False)
    assert (tmp_path / "gz-without-suffix").read_bytes()[:2] == b"\x1f\x8b"
    assert (tmp_path / "raw-with-suffix.gz").read_bytes()[:2] == b"\x00\x00"
    np.testing.assert_array_equal(read_idx(tmp_path / "gz-without-suffix"), arr)
    np.testing.assert_array_equal(read_idx(tmp_path / "raw-with-suffix.gz"), arr)


def test_gzip_output_is_deterministic(tmp_path: Path) -> None:
    arr = np.arange(100, dtype=np.int32)
    write_idx(tmp_path / "a.gz", arr)
    write_idx(tmp_path / "b.gz", arr)
    assert (tmp_path / "a.gz").read_bytes() == (tmp_path / "b.gz").read_bytes()


def test_write_leaves_no_temporary_files(tmp_path: Path) -> None:
    write_idx(tmp_path / "sub" / "x.gz", np.zeros((2, 2), np.uint8))
    assert [p.name for p in (tmp_path / "sub").iterdir()] == ["x.gz"]


def test_zero_length_dimension_round_trips(tmp_path: Path) -> None:
    arr = np.zeros((0, 28, 28), dtype=np.uint8)
    write_idx(tmp_path / "empty.idx", arr)
    assert read_idx(tmp_path / "empty.idx").shape == (0, 28, 28)


# --------------------------------------------------------------------------- broken files


def test_missing_file(tmp_path: Path) -> None:
    raises_one_line(tmp_path / "nope.gz", "not found")


def test_directory_is_not_a_file(tmp_path: Path) -> None:
    raises_one_line(tmp_path, "not a regular file")


def test_empty_file(tmp_path: Path) -> None:
    (tmp_path / "e").write_bytes(b"")
    raises_one_line(tmp_path / "e", "empty")


def test_empty_gzip_stream(tmp_path: Path) -> None:
    (tmp_path / "e.gz").write_bytes(gzip.compress(b""))
    raises_one_line(tmp_path / "e.gz", "empty")


def test_short_header(tmp_path: Path) -> None:
    (tmp_path / "h").write_bytes(b"\x00\x00\x08")
    raises_one_line(tmp_path / "h", "truncated")


def test_truncated_dimensions(tmp_path: Path) -> None:
    (tmp_path / "h").write_bytes(header(0x08, (2, 3))[:9])
    raises_one_line(tmp_path / "h", "truncated inside its header")


@pytest.mark.parametrize("compress", [False, True])
def test_truncated_data(tmp_path: Path, compress: bool) -> None:
    data = header(0x08, (10, 10)) + bytes(99)
    (tmp_path / "t").write_bytes(gzip.compress(data) if compress else data)
    err = raises_one_line(tmp_path / "t", "truncated")
    assert "100" in str(err) and "99" in str(err)


@pytest.mark.parametrize("compress", [False, True])
def test_trailing_garbage(tmp_path: Path, compress: bool) -> None:
    data = header(0x08, (2, 2)) + bytes(4) + b"junk"
    (tmp_path / "t").write_bytes(gzip.compress(data) if compress else data)
    raises_one_line(tmp_path / "t", "bytes after")


def test_garbage_after_gzip_stream(tmp_path: Path) -> None:
    data = gzip.compress(header(0x08, (2,)) + bytes(2)) + b"not gzip"
    (tmp_path / "t.gz").write_bytes(data)
    raises_one_line(tmp_path / "t.gz", "corrupt gzip")


def test_wrong_magic(tmp_path: Path) -> None:
    (tmp_path / "m").write_bytes(b"\x01\x00\x08\x01" + struct.pack(">I", 1) + b"\x00")
    raises_one_line(tmp_path / "m", "not an IDX file")


def test_unknown_dtype_code(tmp_path: Path) -> None:
    (tmp_path / "d").write_bytes(header(0x0A, (1,)) + b"\x00")
    raises_one_line(tmp_path / "d", "unknown dtype code 0x0A")


def test_zero_dimensions(tmp_path: Path) -> None:
    (tmp_path / "z").write_bytes(b"\x00\x00\x08\x00\x05")
    raises_one_line(tmp_path / "z", "0 dimensions")


def test_corrupt_gzip_stream(tmp_path: Path) -> None:
    good = gzip.compress(header(0x08, (100,)) + bytes(range(100)))
    bad = good[:12] + bytes(b ^ 0xFF for b in good[12:-8]) + good[-8:]
    (tmp_path / "c.gz").write_bytes(bad)
    raises_one_line(tmp_path / "c.gz", "corrupt gzip")


def test_gzip_cut_short(tmp_path: Path) -> None:
    good = gzip.compress(header(0x08, (1000,)) + bytes(1000))
    (tmp_path / "c.gz").write_bytes(good[: len(good) // 2])
    raises_one_line(tmp_path / "c.gz", "corrupt gzip|truncated")


def test_absurd_size_refused_before_allocating(tmp_path: Path) -> None:
    # 65536^3 float64 = 2 PiB; the file itself is 20 bytes.
    (tmp_path / "big").write_bytes(header(0x0E, (65536, 65536, 65536)))
    err = raises_one_line(tmp_path / "big", "limit")
    assert str(MAX_DATA_BYTES) in str(err)


@pytest.mark.parametrize(
    "array",
    [np.zeros(3, np.uint16), np.zeros(3, np.int64), np.zeros(3, bool), np.zeros(3, complex)],
)
def test_write_refuses_unsupported_dtypes(tmp_path: Path, array: np.ndarray) -> None:
    with pytest.raises(AekitError, match="cannot write dtype"):
        write_idx(tmp_path / "x", array)
    assert not list(tmp_path.iterdir())


def test_write_refuses_scalars(tmp_path: Path) -> None:
    with pytest.raises(AekitError, match="1 to 255 dimensions"):
        write_idx(tmp_path / "x", np.uint8(3))


# --------------------------------------------------------------------------- properties

SETTINGS = settings(
    max_examples=150,
    deadline=None,
    database=None,  # no .hypothesis/ example store in the work tree
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


@SETTINGS
@given(
    array=hnp.arrays(
        dtype=st.sampled_from(DTYPES),
        shape=hnp.array_shapes(min_dims=1, max_dims=4, min_side=0, max_side=5),
    ),
    compress=st.booleans(),
)
def test_round_trip_property(tmp_path: Path, array: np.ndarray, compress: bool) -> None:
    path = tmp_path / "prop.idx"
    write_idx(path, array, compress=compress)
    back = read_idx(path)
    assert back.shape == array.shape and back.dtype == array.dtype
    # Byte comparison: NaN payloads and -0.0 must survive too.
    assert back.tobytes() == np.ascontiguousarray(array).tobytes()


@SETTINGS
@given(
    prefix=st.sampled_from([b"", b"\x00\x00", b"\x00\x00\x08", b"\x00\x00\x0d\x02"]),
    body=st.binary(max_size=64),
    compress=st.booleans(),
)
def test_arbitrary_bytes_raise_only_aekit_error(
    tmp_path: Path, prefix: bytes, body: bytes, compress: bool
) -> None:
    data = prefix + body
    path = tmp_path / "fuzz"
    path.write_bytes(gzip.compress(data) if compress else data)
    try:
        arr = read_idx(path)
    except AekitError as e:
        assert "\n" not in str(e)
    else:
        assert isinstance(arr, np.ndarray)


@SETTINGS
@given(data=st.binary(min_size=1, max_size=64))
def test_arbitrary_gzip_like_bytes_raise_only_aekit_error(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "fuzz.gz"
    path.write_bytes(b"\x1f\x8b" + data)
    with contextlib.suppress(AekitError):
        read_idx(path)
