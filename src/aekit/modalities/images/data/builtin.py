"""Readers for the built-in datasets' on-disk formats: IDX quadruples, CIFAR-10 binary, digits.

These functions read a directory that is already known to hold the files; finding that
directory (and downloading) is `sources.py`'s job. Each check names the file at fault,
because a half-copied dataset directory is the most common way these loads fail.

CIFAR-10 binary layout (https://www.cs.toronto.edu/~kriz/cifar.html, "Binary version"):
each file is a sequence of 3073-byte records, 1 label byte (0-9) then 3072 pixel bytes
stored channel-major: 1024 red, 1024 green, 1024 blue, each plane row-major 32x32. That
is exactly (3, 32, 32) C order, so no transpose is needed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from aekit.errors import AekitError
from aekit.modalities.images.data.idx import read_idx, read_idx_header
from aekit.modalities.images.data.memory import check_fits
from aekit.modalities.images.data.splits import ImageSet

IDX_STEMS = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}

CIFAR_DIR = "cifar-10-batches-bin"
CIFAR_TRAIN = tuple(f"data_batch_{i}.bin" for i in range(1, 6))
CIFAR_TEST = "test_batch.bin"
CIFAR_RECORD = 1 + 3 * 32 * 32
CIFAR_CLASSES = (
    "airplane", "automobile", "bird", "cat", "deer",
    "dog", "frog", "horse", "ship", "truck",
)  # fmt: skip


def idx_file(directory: Path, stem: str) -> Path | None:
    """The file for `stem` in `directory`: gzipped, raw, or the ``train-images.idx3-ubyte``
    spelling that some unzip tools and the original site's raw files use."""
    dotted = stem.replace("-idx", ".idx")
    for candidate in (f"{stem}.gz", stem, f"{dotted}.gz", dotted):
        path = directory / candidate
        if path.is_file():
            return path
    return None


def idx_missing(directory: Path) -> list[str]:
    """The IDX files (by stem) that `directory` lacks; empty means the set is complete."""
    return [stem for stem in IDX_STEMS.values() if idx_file(directory, stem) is None]


def read_idx_set(directory: Path) -> tuple[ImageSet, ImageSet]:
    """(train, test) from the four MNIST-style IDX files in `directory`."""
    files = {}
    for key, stem in IDX_STEMS.items():
        path = idx_file(directory, stem)
        if path is None:
            raise AekitError(f"{stem}(.gz) is missing from {directory}")
        files[key] = path
    _check_idx_fits(directory, [files["train_images"], files["test_images"]])
    train = _idx_pair(files["train_images"], files["train_labels"])
    test = _idx_pair(files["test_images"], files["test_labels"])
    if train.images.shape[1:] != test.images.shape[1:]:
        raise AekitError(
            f"train images in {directory} are {train.images.shape[2:]} but test images are "
            f"{test.images.shape[2:]}; the files come from different datasets"
        )
    return train, test


def _check_idx_fits(directory: Path, image_files: list[Path]) -> None:
    """Reading one IDX file holds its bytes twice (read, then made native-endian); the images
    then stay, and the split copies the training ones once more."""
    sizes, shapes = [], []
    for path in image_files:
        shape, dtype = read_idx_header(path)
        sizes.append(int(np.prod(shape, dtype=np.int64)) * dtype.itemsize)
        shapes.append("x".join(map(str, shape)))
    check_fits(
        2 * sum(sizes) + max(sizes),
        f"the IDX images in {directory} ({' + '.join(shapes)})",
        "free some memory first",
    )


def _idx_pair(images_path: Path, labels_path: Path) -> ImageSet:
    images = read_idx(images_path)
    if images.ndim != 3 or images.dtype != np.uint8:
        raise AekitError(
            f"{images_path} should hold uint8 images (N, H, W), "
            f"holds {images.dtype} of shape {images.shape}"
        )
    labels = read_idx(labels_path)
    if labels.ndim != 1 or labels.dtype != np.uint8:
        raise AekitError(
            f"{labels_path} should hold uint8 labels (N,), "
            f"holds {labels.dtype} of shape {labels.shape}"
        )
    if len(labels) != len(images):
        raise AekitError(
            f"{labels_path} has {len(labels)} labels but {images_path} has {len(images)} "
            "images; the files do not belong together"
        )
    # (N, H, W) -> (N, 1, H, W): a view, no copy.
    return ImageSet(images[:, None], labels.astype(np.int64))


def cifar_dir(directory: Path) -> Path | None:
    """The directory holding the CIFAR-10 binary batches: `directory` or its
    ``cifar-10-batches-bin`` subdirectory, or None."""
    for d in (directory, directory / CIFAR_DIR):
        if all((d / f).is_file() for f in (*CIFAR_TRAIN, CIFAR_TEST)):
            return d
    return None


def read_cifar_dir(directory: Path) -> tuple[ImageSet, ImageSet, tuple[str, ...]]:
    """(train, test, class names) from extracted ``cifar-10-batches-bin`` files."""
    # Each batch is read whole, its images copied out, and the batches are then concatenated
    # and split (one copy each): three times the images' bytes, estimated from the file sizes.
    files = [directory / f for f in (*CIFAR_TRAIN, CIFAR_TEST)]
    images = sum(f.stat().st_size // CIFAR_RECORD * (CIFAR_RECORD - 1) for f in files)
    check_fits(3 * images, f"CIFAR-10 from {directory}", "free some memory first")
    train_parts = [_cifar_batch(directory / f) for f in CIFAR_TRAIN]
    train = ImageSet(
        np.concatenate([p.images for p in train_parts]),
        np.concatenate([p.labels for p in train_parts]),  # type: ignore[misc]
    )
    return train, _cifar_batch(directory / CIFAR_TEST), _cifar_classes(directory)


def _cifar_batch(path: Path) -> ImageSet:
    size = path.stat().st_size
    if size == 0 or size % CIFAR_RECORD:
        raise AekitError(
            f"{path} is {size} bytes, not a whole number of {CIFAR_RECORD}-byte CIFAR-10 "
            "records; the file is truncated or not the binary version"
        )
    records = np.fromfile(path, dtype=np.uint8).reshape(-1, CIFAR_RECORD)
    labels = records[:, 0].astype(np.int64)
    if labels.max() >= len(CIFAR_CLASSES):
        raise AekitError(
            f"{path} has label {int(labels.max())}; CIFAR-10 labels are 0..9 "
            "(is this CIFAR-100, whose records have 2 label bytes?)"
        )
    images = np.ascontiguousarray(records[:, 1:]).reshape(-1, 3, 32, 32)
    return ImageSet(images, labels)


def _cifar_classes(directory: Path) -> tuple[str, ...]:
    """Class names from batches.meta.txt (one per line) when present and sane."""
    meta = directory / "batches.meta.txt"
    if meta.is_file():
        names = tuple(line.strip() for line in meta.read_text(errors="replace").splitlines())
        names = tuple(n for n in names if n)
        if len(names) == len(CIFAR_CLASSES):
            return names
    return CIFAR_CLASSES


def load_digits_set() -> ImageSet:
    """scikit-learn's bundled 8x8 digits (1797 images), scaled from 0..16 to 0..255.

    The data ships inside the scikit-learn package, so this works offline.
    """
    from sklearn.datasets import load_digits

    digits = load_digits()
    # 0..16 -> 0..255, rounding halves up: 16 -> 255, 8 -> 128.
    images = np.floor(digits.images * (255.0 / 16.0) + 0.5).astype(np.uint8)
    return ImageSet(np.ascontiguousarray(images[:, None]), digits.target.astype(np.int64))
