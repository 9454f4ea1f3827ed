"""The in-memory dataset types and the seeded train / val / test split.

Images stay uint8 (N, C, H, W) in memory: Fashion-MNIST is 47 MB that way and 188 MB as
float32. Batches become float later, on the fly.

Split rules (the same for every source, so runs are comparable):

- One generator, ``np.random.default_rng(seed)``, drives every random choice of a load.
- Sources without an official test split (digits, folders, most arrays) first carve
  ``test_fraction`` of their images off as test. Sources with one ignore ``test_fraction``.
- ``val_fraction`` of the remaining training images becomes validation.
- ``limit`` then caps the training images, taken from the same shuffle. Validation and test
  are chosen *before* the cap and do not depend on it, so runs with different limits are
  scored on the same images.
- Every split keeps its images in their original file order (indices are sorted): order does
  not matter for training, which shuffles per epoch, and sorted gathers copy faster.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from aekit.errors import AekitError
from aekit.modalities.base import DatasetInfo
from aekit.modalities.images.data.images import convert_channels, resize_images
from aekit.modalities.images.data.rows import ShardRows

__all__ = ["Dataset", "DatasetInfo", "ImageSet", "check_split_args", "make_dataset"]


@dataclass(frozen=True)
class ImageSet:
    """Images and (optionally) their integer class labels.

    `images` is an in-memory array, or for `shards:` datasets a `ShardRows` over memory-mapped
    files, read only where indexed (rows.py): ``subset`` keeps it unread, and the trainer
    gathers it batch by batch."""

    images: np.ndarray | ShardRows  # (N, C, H, W) uint8, C-contiguous
    labels: np.ndarray | None  # (N,) int64, or None for unlabeled data
    noun: ClassVar[str] = "images"  # what a row is called in messages

    @property
    def rows(self) -> np.ndarray:
        """The raw rows the trainer gathers batches from (every split of every modality has
        them): here the uint8 images, which the image tasks scale themselves."""
        return self.images

    def __post_init__(self) -> None:
        # These are programming errors inside aekit (loaders build ImageSets), not user errors.
        im = self.images
        if not (isinstance(im, np.ndarray | ShardRows) and im.ndim == 4 and im.dtype == np.uint8):
            raise TypeError(f"ImageSet.images must be uint8 (N, C, H, W), got {_describe(im)}")
        if isinstance(im, np.ndarray) and not im.flags.c_contiguous:
            raise ValueError("ImageSet.images must be C-contiguous")
        lb = self.labels
        if lb is not None and not (
            isinstance(lb, np.ndarray) and lb.shape == (im.shape[0],) and lb.dtype == np.int64
        ):
            raise TypeError(f"ImageSet.labels must be int64 ({im.shape[0]},), got {_describe(lb)}")

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def subset(self, index: np.ndarray) -> ImageSet:
        """A new ImageSet with the images at `index` (integer indices or a boolean mask)."""
        index = np.asarray(index)
        if index.dtype != bool and index.dtype.kind not in "iu":
            raise TypeError(f"subset index must be integers or a boolean mask, got {index.dtype}")
        if isinstance(self.images, ShardRows):  # still unread: the split costs its index
            images = self.images.take(index)
        else:
            images = np.ascontiguousarray(self.images[index])
        labels = None if self.labels is None else np.ascontiguousarray(self.labels[index])
        return ImageSet(images, labels)


def _describe(x: object) -> str:
    if isinstance(x, np.ndarray | ShardRows):
        return f"{x.dtype} array of shape {x.shape}"
    return type(x).__name__


@dataclass(frozen=True)
class Dataset:
    """A named dataset, split three ways, with the images all of one shape."""

    name: str  # e.g. "fashion-mnist", "folder:/path", "npz:/path/x.npz"
    train: ImageSet
    val: ImageSet
    test: ImageSet
    classes: tuple[str, ...] | None  # class names when known, index = label
    location: str  # where it was found: a directory, "scikit-learn", a file

    def __post_init__(self) -> None:
        shapes = {s.images.shape[1:] for s in (self.train, self.val, self.test)}
        if len(shapes) != 1:
            raise ValueError(f"Dataset splits differ in image shape: {sorted(shapes)}")

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """(C, H, W) of every image in every split."""
        c, h, w = self.train.images.shape[1:]
        return int(c), int(h), int(w)

    @property
    def num_classes(self) -> int | None:
        """Number of classes when known (labels then lie in range(num_classes))."""
        return None if self.classes is None else len(self.classes)


def check_split_args(
    val_fraction: float,
    test_fraction: float,
    seed: int,
    limit: int | None,
    image_size: int | None,
    channels: int | None,
) -> None:
    """Validate the split and transform arguments before any file is read."""
    for label, f in (("val_fraction", val_fraction), ("test_fraction", test_fraction)):
        if isinstance(f, bool) or not isinstance(f, int | float) or not 0.0 <= f < 1.0:
            raise AekitError(f"{label} must be a number in [0, 1), got {f!r}")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise AekitError(f"seed must be a non-negative integer, got {seed!r}")
    for label, v in (("limit", limit), ("image_size", image_size)):
        if v is not None and (isinstance(v, bool) or not isinstance(v, int | np.integer) or v < 1):
            raise AekitError(f"{label} must be a positive integer or None, got {v!r}")
    if channels not in (None, 1, 3):
        raise AekitError(f"channels must be 1 (gray), 3 (RGB) or None, got {channels!r}")


def _count(n: int, fraction: float) -> int:
    """round(n * fraction), halves rounded up so 5 images at 0.1 still give 1."""
    return int(np.floor(n * fraction + 0.5))


def make_dataset(
    name: str,
    pool: ImageSet,
    test: ImageSet | None,
    classes: tuple[str, ...] | None,
    location: str,
    *,
    val_fraction: float,
    test_fraction: float,
    seed: int,
    limit: int | None,
    image_size: int | None,
    channels: int | None,
) -> Dataset:
    """Split `pool` (and carve a test set if `test` is None), then convert and resize.

    Conversion and resizing run after the split, so `limit` also saves their time.
    """
    check_split_args(val_fraction, test_fraction, seed, limit, image_size, channels)
    n_total = len(pool) + (0 if test is None else len(test))
    _check_labels(pool, classes, f"{name} (training)")
    if test is not None:
        _check_labels(test, classes, f"{name} (test)")
    rng = np.random.default_rng(seed)
    if test is None:
        perm = rng.permutation(len(pool))
        n_test = _count(len(pool), test_fraction)
        test = pool.subset(np.sort(perm[:n_test]))
        pool = pool.subset(np.sort(perm[n_test:]))
    perm = rng.permutation(len(pool))
    n_val = _count(len(pool), val_fraction)
    val_idx, train_idx = perm[:n_val], perm[n_val:]
    if limit is not None:
        train_idx = train_idx[:limit]
    if len(train_idx) == 0:
        raise AekitError(
            f"{name}: no training images left from {n_total} images with "
            f"val_fraction={val_fraction}, test_fraction={test_fraction}; "
            "add images or lower the fractions"
        )
    parts = [pool.subset(np.sort(train_idx)), pool.subset(np.sort(val_idx)), test]
    size = None if image_size is None else (image_size, image_size)
    parts = [_transform(p, channels, size) for p in parts]
    return Dataset(name, parts[0], parts[1], parts[2], classes, location)


def _transform(s: ImageSet, channels: int | None, size: tuple[int, int] | None) -> ImageSet:
    if channels in (None, s.images.shape[1]) and size in (None, s.images.shape[2:]):
        return s  # nothing to do; and a ShardRows split must stay unread
    images = convert_channels(s.images, channels)
    if size is not None:
        images = resize_images(images, size)
    return ImageSet(np.ascontiguousarray(images), s.labels)


def _check_labels(s: ImageSet, classes: tuple[str, ...] | None, what: str) -> None:
    if s.labels is None or len(s.labels) == 0:
        return
    lo, hi = int(s.labels.min()), int(s.labels.max())
    if lo < 0:
        raise AekitError(f"{what}: labels must be >= 0, found {lo}")
    if classes is not None and hi >= len(classes):
        raise AekitError(
            f"{what}: label {hi} is out of range for {len(classes)} classes "
            f"(labels must lie in 0..{len(classes) - 1}); the label file is corrupt or wrong"
        )
