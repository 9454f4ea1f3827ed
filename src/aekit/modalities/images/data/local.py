"""Your own images: a folder of PNG/JPEG files, or arrays in a .npz/.npy file.

Folder layouts understood (searched recursively, hidden files and folders skipped, so macOS
``._x.png`` and ``.DS_Store`` debris is ignored):

    root/cat/1.png, root/dog/2.png      labeled: class = first folder below root, sorted names
    root/1.png, root/more/2.png ...     NOT allowed: files at the top next to class folders
    root/1.png, root/2.png              unlabeled
    root/train/..., root/test/...       exactly these two folders: an official test split,
                                        each half labeled or unlabeled as above

Arrays are always loaded with ``allow_pickle=False``: an .npz can otherwise run code. Float
arrays must be finite: a NaN pixel would only surface later as a NaN loss, far from its cause.
Before anything is decoded or decompressed, the memory the load needs is estimated from headers
and checked against what is available (memory.py).
"""

from __future__ import annotations

import contextlib
import math
import tokenize
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from aekit.errors import AekitError, first_line
from aekit.modalities.images.data.images import (
    IMAGE_SUFFIXES,
    image_header,
    read_image,
    unit_float_to_uint8,
)
from aekit.modalities.images.data.memory import check_fits
from aekit.modalities.images.data.splits import ImageSet

Loaded = tuple[ImageSet, ImageSet | None, tuple[str, ...] | None]  # (pool, test or None, classes)


# ----------------------------------------------------------------------------- folders


def _image_files(root: Path) -> list[Path]:
    files = []
    for p in root.rglob("*"):
        rel = p.relative_to(root)
        if any(part.startswith(".") for part in rel.parts):
            continue
        if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file():
            files.append(p)
    return sorted(files)


def _scan(root: Path) -> tuple[list[Path], list[str] | None]:
    """Image files under `root` and, when they sit in class folders, each file's class."""
    files = _image_files(root)
    if not files:
        raise AekitError(
            f"no PNG or JPEG files found in {root} (searched recursively; hidden files skipped)"
        )
    top = [f for f in files if f.parent == root]
    nested = [f for f in files if f.parent != root]
    if top and nested:
        raise AekitError(
            f"{root} has images both at the top ({top[0].name}) and in class folders "
            f"({nested[0].relative_to(root)}); move the top-level ones into a class folder "
            "or flatten the folders"
        )
    if top:
        return files, None
    return files, [f.relative_to(root).parts[0] for f in files]


@dataclass(frozen=True)
class FolderPlan:
    """What a folder holds, worked out from names and image headers alone: which files in which
    order, their labels, and the (C, H, W) every image becomes. `load_folder` reads it into
    memory; `aekit pack` (pack.py) streams it into shards, one image at a time."""

    root: Path
    files: list[Path]  # files[:n_train] are the pool, the rest the official test split
    n_train: int
    labels: np.ndarray | None  # (len(files),) int64 when the images sit in class folders
    classes: tuple[str, ...] | None
    shape: tuple[int, int, int]  # (C, H, W) of every image as read
    largest: int  # pixels of the largest image (decoding it is the peak)
    max_pixels: int

    def read(self, i: int) -> np.ndarray:
        """Image `i` as uint8 (C, H, W), converted and resized as planned."""
        c, h, w = self.shape
        return read_image(self.files[i], channels=c, size=(h, w), max_pixels=self.max_pixels)


def plan_folder(
    root: Path,
    channels: int | None,
    image_size: int | None,
    max_pixels: int = 50_000_000,
    size_option: str = "image_size (--image-size)",
) -> FolderPlan:
    """Scan `root` (layouts in the module docstring) and read every image's header.

    `channels` None: 3 if any image is coloured, else 1. `image_size` None: every image must
    have the same size (the message names `size_option` as the way out)."""
    if not root.is_dir():
        raise AekitError(f"not a directory: {root}")
    subdirs = {p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")}
    loose = [f for f in root.iterdir() if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES]
    if subdirs == {"train", "test"} and not loose:
        train_files, train_cls = _scan(root / "train")
        test_files, test_cls = _scan(root / "test")
        if (train_cls is None) != (test_cls is None):
            raise AekitError(
                f"{root}/train and {root}/test must both use class folders or both not"
            )
        classes = None if train_cls is None else sorted(set(train_cls) | set(test_cls or []))
        files, class_of = train_files + test_files, None
        if train_cls is not None:
            class_of = train_cls + (test_cls or [])
        n_train = len(train_files)
    else:
        files, class_of = _scan(root)
        classes = None if class_of is None else sorted(set(class_of))
        n_train = len(files)
    labels = None
    if class_of is not None and classes is not None:
        index = {c: i for i, c in enumerate(classes)}
        labels = np.array([index[c] for c in class_of], dtype=np.int64)
    headers = [image_header(f, max_pixels) for f in files]  # cheap: no pixel decoding
    if channels is None:
        channels = 3 if any(c == 3 for c, _, _ in headers) else 1
    if image_size is None:
        first = headers[0][1:]
        for f, (_, h, w) in zip(files, headers, strict=True):
            if (h, w) != first:
                raise AekitError(
                    f"images in {root} differ in size: {files[0].relative_to(root)} is "
                    f"{first[0]}x{first[1]} (HxW) but {f.relative_to(root)} is {h}x{w}; "
                    f"pass {size_option} to resize them all to one square size"
                )
        size = first
    else:
        size = (image_size, image_size)
    return FolderPlan(
        root, files, n_train, labels, None if classes is None else tuple(classes),
        (channels, *size), max(h * w for _, h, w in headers), max_pixels,
    )  # fmt: skip


def load_folder(
    root: Path, channels: int | None, image_size: int | None, max_pixels: int = 50_000_000
) -> Loaded:
    """Read every image under `root` into one uint8 (N, C, H, W) array (plus the test split
    when the folder has the train/test layout)."""
    plan = plan_folder(root, channels, image_size, max_pixels)
    everything = ImageSet(_read_all(plan), plan.labels)
    n_train, n = plan.n_train, len(plan.files)
    if n_train == n:
        return everything, None, plan.classes
    return (
        everything.subset(np.arange(n_train)),
        everything.subset(np.arange(n_train, n)),
        plan.classes,
    )


def _read_all(plan: FolderPlan) -> np.ndarray:
    """Decode every planned image into one array, once it is clear that it fits in memory."""
    n, (c, h, w) = len(plan.files), plan.shape
    # Peak: the uint8 array, the split's copies of it (as large again), and the largest image
    # while it is decoded (RGBA composited in uint32: at most 32 bytes a pixel).
    check_fits(
        2 * n * c * h * w + 32 * plan.largest,
        f"{n} images of {c}x{h}x{w} from {plan.root}",
        "pass a smaller --image-size (data.image_size) to shrink them as they load, "
        "use fewer files, or pack them into shards that stay on disk (aekit pack)",
    )
    out = np.empty((n, c, h, w), dtype=np.uint8)
    for i in range(n):
        out[i] = plan.read(i)
    return out


# ----------------------------------------------------------------------------- arrays

# Key conventions, tried in order: (images, labels, test images, test labels).
_KEYSETS = (
    ("x_train", "y_train", "x_test", "y_test"),
    ("images", "labels", None, None),
    ("x", "y", None, None),
)


def load_arrays(path: Path) -> Loaded:
    """Images (and labels, and a test split) from a .npz or .npy file, never unpickling."""
    if not path.is_file():
        raise AekitError(f"array file not found: {path}")
    mmap_mode = None
    if path.suffix.lower() == ".npy":
        with open(path, "rb") as f:
            header = _array_header(f)
        _check_arrays_fit(path, [header])
        # uint8 as stored is mapped, not read: the split copies only what it keeps, and
        # `aekit pack` streams the file into shards in chunks
        mmap_mode = "r" if header is not None and header[1] == np.uint8 else None
    with refusing_pickles(f"{path}"):
        loaded = np.load(path, allow_pickle=False, mmap_mode=mmap_mode)
    if isinstance(loaded, np.ndarray):  # a plain .npy: images only
        return ImageSet(to_nchw(loaded, f"{path}"), None), None, None
    with loaded as z:
        return _from_npz(path, z)


@contextlib.contextmanager
def refusing_pickles(what: str) -> Iterator[None]:
    """Turn numpy's read errors into AekitError; numpy says "pickle" when allow_pickle=False
    stopped an object array, which aekit never loads because unpickling can run code."""
    try:
        yield
    except ValueError as e:
        if "pickle" in str(e):
            raise AekitError(
                f"{what} holds pickled data, which aekit never loads (it can run code); "
                "re-save the arrays with numeric dtypes via np.savez"
            ) from None
        raise AekitError(f"cannot read {what} as .npy/.npz: {e}") from None
    except (OSError, EOFError, zipfile.BadZipFile, *ARCHIVE_ERRORS) as e:
        first = first_line(e)
        raise AekitError(f"cannot read {what} as .npy/.npz: {first}") from None


# What a damaged .npz makes zipfile and numpy raise besides OSError and ValueError: a corrupt
# deflate stream, a zip feature Python lacks (a newer version, encryption, a compression method),
# and a header numpy's tokenizer cannot finish.
ARCHIVE_ERRORS = (zlib.error, NotImplementedError, RuntimeError, tokenize.TokenError, SyntaxError)


def _array_header(f: BinaryIO) -> tuple[tuple[int, ...], np.dtype] | None:
    """(shape, dtype) from a .npy header without reading the data; None if the header does not
    parse (np.load then says what is wrong with it)."""
    readers = {
        (1, 0): np.lib.format.read_array_header_1_0,
        (2, 0): np.lib.format.read_array_header_2_0,
    }
    try:
        reader = readers.get(np.lib.format.read_magic(f))
        if reader is None:
            return None
        shape, _, dtype = reader(f)
    except (ValueError, OSError, EOFError, *ARCHIVE_ERRORS):
        return None
    return tuple(shape), dtype


def _member_header(z: np.lib.npyio.NpzFile, key: str) -> tuple[tuple[int, ...], np.dtype] | None:
    member = f"{key}.npy" if f"{key}.npy" in z.zip.namelist() else key
    try:
        with z.zip.open(member) as f:  # decompresses only the header's few bytes
            return _array_header(f)
    except (KeyError, ValueError, OSError, zipfile.BadZipFile, *ARCHIVE_ERRORS):
        return None


def _check_arrays_fit(path: Path, headers: list) -> None:
    """Each array becomes uint8 and is then copied once more by the split; while one is being
    converted, its raw data (and, for floats, two temporaries as large) is held as well."""
    known = [(math.prod(shape), dtype) for shape, dtype in filter(None, headers)]
    if not known:
        return
    peak_raw = max(n * dtype.itemsize * (3 if dtype.kind == "f" else 1) for n, dtype in known)
    need = 2 * sum(n for n, _ in known) + peak_raw
    shapes = " + ".join(f"{dtype} {shape}" for shape, dtype in filter(None, headers))
    check_fits(need, f"{path} ({shapes})", "save fewer images in it (x[:n])")


def _get(path: Path, z: np.lib.npyio.NpzFile, key: str) -> np.ndarray:
    with refusing_pickles(f"{path}: array {key!r}"):
        value = z[key]
    if not isinstance(value, np.ndarray):  # numpy hands back the raw bytes of a non-.npy member
        raise AekitError(f"{path}: member {key!r} is not a .npy array; re-save with np.savez")
    return value


def _from_npz(path: Path, z: np.lib.npyio.NpzFile) -> Loaded:
    keys = set(z.files)
    keyset = next((ks for ks in _KEYSETS if ks[0] in keys), None)
    if keyset is None:
        if len(keys) == 1:  # e.g. KMNIST's kmnist-train-imgs.npz with its single 'arr_0'
            (only,) = keys
            _check_arrays_fit(path, [_member_header(z, only)])
            return ImageSet(to_nchw(_get(path, z, only), f"{path}[{only!r}]"), None), None, None
        raise AekitError(
            f"{path} has arrays {sorted(keys)}; expected x_train (+ y_train, x_test, y_test), "
            "images (+ labels), or x (+ y)"
        )
    x_key, y_key, xt_key, yt_key = keyset
    used = [k for k in (x_key, y_key, xt_key, yt_key) if k is not None and k in keys]
    _check_arrays_fit(path, [_member_header(z, k) for k in used])
    classes = None
    if "classes" in keys:
        raw = _get(path, z, "classes")
        if raw.ndim != 1 or raw.dtype.kind not in "US":
            raise AekitError(f"{path}['classes'] must be a 1-D array of strings, got {raw.dtype}")
        classes = tuple(str(c) for c in raw.tolist())
    pool = _imageset(path, z, x_key, y_key if y_key in keys else None)
    test = None
    if xt_key is not None and xt_key in keys:
        has_yt = yt_key in keys
        if (pool.labels is None) == has_yt:
            raise AekitError(
                f"{path}: labels are given for only one of train/test "
                f"({y_key} {'present' if pool.labels is not None else 'absent'}, "
                f"{yt_key} {'present' if has_yt else 'absent'}); give both or neither"
            )
        test = _imageset(path, z, xt_key, yt_key if has_yt else None)
        if test.images.shape[1:] != pool.images.shape[1:]:
            raise AekitError(
                f"{path}: {x_key} images are {pool.images.shape[1:]} (C, H, W) but {xt_key} "
                f"images are {test.images.shape[1:]}"
            )
    elif yt_key is not None and yt_key in keys:
        raise AekitError(f"{path} has {yt_key} but no {xt_key}")
    return pool, test, classes


def _imageset(path: Path, z: np.lib.npyio.NpzFile, x_key: str, y_key: str | None) -> ImageSet:
    images = to_nchw(_get(path, z, x_key), f"{path}[{x_key!r}]")
    labels = None
    if y_key is not None:
        labels = to_labels(_get(path, z, y_key), len(images), f"{path}[{y_key!r}]")
    return ImageSet(images, labels)


def to_nchw(arr: np.ndarray, what: str) -> np.ndarray:
    """(N, H, W), (N, H, W, C) or (N, C, H, W) with C in {1, 3} -> uint8 (N, C, H, W).

    A 4-D array whose axis 1 is 1 or 3 is read as (N, C, H, W), PyTorch's layout; otherwise
    a last axis of 1 or 3 means (N, H, W, C). uint8 is kept; floats must be finite and in
    [0, 1] and are scaled by 255 and rounded; other integers must lie in 0..255.
    """
    if arr.ndim == 3:
        arr = arr[:, None]
    elif arr.ndim == 4:
        if arr.shape[1] not in (1, 3):
            if arr.shape[3] not in (1, 3):
                raise AekitError(
                    f"{what} has shape {arr.shape}; expected (N, H, W), (N, H, W, C) or "
                    "(N, C, H, W) with C = 1 or 3"
                )
            arr = arr.transpose(0, 3, 1, 2)
    else:
        raise AekitError(
            f"{what} has shape {arr.shape}; expected (N, H, W), (N, H, W, C) or (N, C, H, W)"
        )
    if arr.shape[0] == 0 or 0 in arr.shape[2:]:
        raise AekitError(f"{what} holds no images (shape {arr.shape})")
    if arr.dtype == np.uint8:
        return np.ascontiguousarray(arr)
    if arr.dtype.kind == "f":
        finite = np.isfinite(arr).reshape(arr.shape[0], -1).all(axis=1)
        if not finite.all():
            bad = np.flatnonzero(~finite)
            raise AekitError(
                f"{what} holds NaN or infinity in {len(bad)} of its {len(arr)} images (the "
                f"first is image {bad[0]}); fix or drop them (np.nan_to_num, np.isfinite) first"
            )
        return np.ascontiguousarray(unit_float_to_uint8(arr, what))
    if arr.dtype.kind in "iu":
        lo, hi = int(arr.min()), int(arr.max())
        if lo < 0 or hi > 255:
            raise AekitError(f"{what} is {arr.dtype} with values in [{lo}, {hi}], not 0..255")
        return np.ascontiguousarray(arr.astype(np.uint8))
    raise AekitError(f"{what} has dtype {arr.dtype}; use uint8 (0..255) or float (0..1)")


def to_labels(arr: np.ndarray, n: int, what: str) -> np.ndarray:
    """Integer class labels, one per image -> int64 (n,)."""
    if arr.ndim != 1:
        raise AekitError(f"{what} must be 1-D class labels, got shape {arr.shape}")
    if len(arr) != n:
        raise AekitError(f"{what} has {len(arr)} labels for {n} images; the counts must match")
    if arr.dtype.kind == "f":
        if not np.all(np.isfinite(arr)) or np.any(arr != np.round(arr)):
            raise AekitError(f"{what} must hold whole-number class labels")
    elif arr.dtype.kind not in "iub":
        raise AekitError(f"{what} has dtype {arr.dtype}; labels must be integers")
    return np.ascontiguousarray(arr.astype(np.int64))
