"""IDX reader and writer: the file format of MNIST, Fashion-MNIST and KMNIST.

Format (LeCun et al., http://yann.lecun.com/exdb/mnist/, "FILE FORMATS" section)::

    byte 0-1   0x00 0x00                 magic: always zero
    byte 2     dtype code                0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32,
                                         0x0D float32, 0x0E float64
    byte 3     ndim                      number of dimensions (>= 1)
    then       ndim x uint32 big-endian  the size of each dimension
    then       prod(dims) items          big-endian, C order

Files are usually gzipped. We detect gzip by its magic bytes (1f 8b), not the file name,
because people rename and re-extract these files in every possible way.

Every read is bounded by what the header announces, and a header that announces more than
`MAX_DATA_BYTES` is refused before anything is allocated: a corrupt or hostile 16-byte file
must not be able to make us allocate gigabytes.
"""

from __future__ import annotations

import gzip
import math
import os
import struct
import zlib
from pathlib import Path
from typing import BinaryIO

import numpy as np

from aekit.atomic import atomic_write
from aekit.errors import AekitError

# IDX dtype code -> big-endian numpy dtype.
DTYPE_CODES: dict[int, np.dtype] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_CODE_FOR_KIND = {(dt.kind, dt.itemsize): code for code, dt in DTYPE_CODES.items()}

# Real IDX files are at most a few hundred MB (EMNIST). 4 GiB is far above any honest file and
# far below what would hurt to allocate by mistake.
MAX_DATA_BYTES = 4 * 2**30

GZIP_MAGIC = b"\x1f\x8b"


def is_gzip(path: str | os.PathLike[str]) -> bool:
    """True if the file starts with the gzip magic bytes (whatever its name)."""
    with open(path, "rb") as f:
        return f.read(2) == GZIP_MAGIC


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an IDX file (raw or gzipped) into a native-endian numpy array.

    Raises `AekitError` naming the file for anything that is not a complete, well-formed IDX
    file: missing, empty, wrong magic, unknown dtype, zero dimensions, truncated data, bytes
    after the data, or a corrupt gzip stream.
    """
    p = Path(path)
    if not p.exists():
        raise AekitError(f"IDX file not found: {p}")
    if not p.is_file():
        raise AekitError(f"IDX path is not a regular file: {p}")
    if p.stat().st_size == 0:
        raise AekitError(f"IDX file is empty (0 bytes): {p}; delete it and fetch it again")
    return _reading(p, _read_stream)


def read_idx_header(path: str | os.PathLike[str]) -> tuple[tuple[int, ...], np.dtype]:
    """(shape, dtype) from an IDX file's header alone, decompressing only its first bytes: what
    a load will allocate, known before it does (data/memory.py). Errors as `read_idx`."""
    p = Path(path)
    if not p.is_file() or p.stat().st_size == 0:
        return read_idx(p)  # raises the missing/empty file's error
    return _reading(p, _read_header)


def _reading(p: Path, read):
    """Run `read(stream, p)` on the file, decompressed if it is gzip, with one error style."""
    gz = is_gzip(p)
    try:
        with open(p, "rb") as raw:
            f: BinaryIO = gzip.GzipFile(fileobj=raw, mode="rb") if gz else raw  # type: ignore[assignment]
            return read(f, p)
    except (gzip.BadGzipFile, EOFError, zlib.error) as e:
        # EOFError: gzip stream cut short; BadGzipFile: bad header or trailing junk after it.
        raise AekitError(
            f"corrupt gzip data in IDX file {p} ({e or type(e).__name__}); "
            "delete it and fetch it again"
        ) from None
    except OSError as e:
        raise AekitError(f"cannot read IDX file {p}: {e.strerror or e}") from None


def _read_exactly(f: BinaryIO, n: int) -> bytes:
    """Read up to `n` bytes, looping because one `read` may return fewer."""
    chunks = []
    remaining = n
    while remaining > 0:
        chunk = f.read(min(remaining, 1 << 24))
        if not chunk:
            break
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def _read_stream(f: BinaryIO, p: Path) -> np.ndarray:
    shape, dtype = _read_header(f, p)
    nbytes = math.prod(shape) * dtype.itemsize
    data = _read_exactly(f, nbytes)
    if len(data) < nbytes:
        raise AekitError(
            f"IDX file {p} is truncated: header says shape {shape} = {nbytes} data bytes, "
            f"found {len(data)}; delete it and fetch it again"
        )
    if f.read(1):
        raise AekitError(
            f"IDX file {p} has bytes after the {nbytes} data bytes its header announces "
            f"(shape {shape}); the file is corrupt or not IDX"
        )
    # frombuffer on bytes is read-only; astype makes the writable, native-endian copy we want.
    arr = np.frombuffer(data, dtype=dtype).astype(dtype.newbyteorder("="))
    return arr.reshape(shape)


def _read_header(f: BinaryIO, p: Path) -> tuple[tuple[int, ...], np.dtype]:
    head = _read_exactly(f, 4)
    if len(head) == 0:
        raise AekitError(f"IDX file {p} is empty after decompression; delete it and fetch it again")
    if len(head) < 4:
        raise AekitError(f"IDX file {p} is truncated: {len(head)} bytes, the header alone is 4")
    if head[0] != 0 or head[1] != 0:
        raise AekitError(
            f"{p} is not an IDX file: first two bytes are {head[:2].hex(' ')}, expected 00 00"
        )
    code, ndim = head[2], head[3]
    if code not in DTYPE_CODES:
        known = ", ".join(f"0x{c:02X}" for c in DTYPE_CODES)
        raise AekitError(f"IDX file {p} has unknown dtype code 0x{code:02X} (known: {known})")
    if ndim == 0:
        raise AekitError(f"IDX file {p} declares 0 dimensions; an IDX array needs at least 1")
    dims_raw = _read_exactly(f, 4 * ndim)
    if len(dims_raw) < 4 * ndim:
        raise AekitError(
            f"IDX file {p} is truncated inside its header: {ndim} dimensions need "
            f"{4 * ndim} bytes, found {len(dims_raw)}"
        )
    shape = struct.unpack(f">{ndim}I", dims_raw)
    dtype = DTYPE_CODES[code]
    nbytes = math.prod(shape) * dtype.itemsize
    if nbytes > MAX_DATA_BYTES:
        raise AekitError(
            f"IDX file {p} claims shape {shape} ({nbytes} bytes), over the "
            f"{MAX_DATA_BYTES} byte limit; the header is corrupt"
        )
    return shape, dtype


def write_idx(
    path: str | os.PathLike[str], array: np.ndarray, compress: bool | None = None
) -> None:
    """Write `array` as an IDX file, gzipped if `compress` (default: iff the name ends .gz).

    The write is atomic (temporary file + rename). The gzip header carries no timestamp, so
    the same array always gives the same bytes and the same checksum.
    """
    p = Path(path)
    arr = np.asarray(array)
    if arr.dtype.kind not in "uif" or (arr.dtype.kind, arr.dtype.itemsize) not in _CODE_FOR_KIND:
        raise AekitError(
            f"cannot write dtype {arr.dtype} to IDX file {p}; IDX holds uint8, int8, int16, "
            "int32, float32 or float64: convert with array.astype(...) first"
        )
    if arr.ndim == 0 or arr.ndim > 255:
        raise AekitError(f"IDX needs 1 to 255 dimensions, got an array of shape {arr.shape}")
    if any(d >= 2**32 for d in arr.shape):
        raise AekitError(f"IDX dimensions must be < 2**32, got shape {arr.shape}")
    code = _CODE_FOR_KIND[(arr.dtype.kind, arr.dtype.itemsize)]
    header = bytes([0, 0, code, arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape)
    payload = np.ascontiguousarray(arr, dtype=DTYPE_CODES[code]).tobytes()
    if compress is None:
        compress = p.name.endswith(".gz")
    with atomic_write(p) as out:
        if compress:
            # filename="" keeps the temporary file's name out of the gzip header.
            with gzip.GzipFile(filename="", fileobj=out, mode="wb", mtime=0) as gz:
                gz.write(header)
                gz.write(payload)
        else:
            out.write(header)
            out.write(payload)
