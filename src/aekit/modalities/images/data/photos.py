"""``photos``: an offline RGB dataset of patches cut from scikit-image's sample photographs.

For colour work without a download: CIFAR-10 needs one, and digits / MNIST are gray. The photos
ship inside the scikit-image wheel (no pooch, no network). Each photo is cut into a
non-overlapping grid of square patches (stride = patch size), dropping the partial strip at the
right and bottom edges.

Split: whole photos are held out for test (`TEST_PHOTOS`, the last of `PHOTOS`), so no test
patch shares a pixel, or even a scene, with a training patch. Validation is then drawn at
random from the training patches by `splits.make_dataset`, like every other source.

Labels are the index of the source photo in `PHOTOS`, so plots can colour points by photo.

Left out on purpose: ``retina`` (1411x1411: at 32x32 it would be 60% of the patches, a fifth of
them black background), ``hubble_deep_field`` (837 patches of near-black sky would outweigh
the rest), ``cat`` (the same picture as ``chelsea``), the synthetic ``colorwheel`` and ``logo``,
and the photos that need pooch to download.
"""

from __future__ import annotations

import numpy as np

from aekit.errors import AekitError
from aekit.modalities.images.data.splits import ImageSet

# Order fixes the labels; the held-out test photos come last. Patches at 32x32 in brackets.
PHOTOS: tuple[str, ...] = (
    "astronaut",  # 512x512 (256)
    "chelsea",  # 300x451, a cat (126)
    "rocket",  # 427x640 (260)
    "immunohistochemistry",  # 512x512, stained tissue under a microscope (256)
    "motorcycle",  # 500x741, the left image of stereo_motorcycle (345)
    "coffee",  # 400x600, a cup on a table (216) -- test
)
TEST_PHOTOS: tuple[str, ...] = ("coffee",)
DEFAULT_PATCH = 32
MIN_PATCH = 8  # smaller patches hold too little structure to be worth learning from


def load_photo(name: str) -> np.ndarray:
    """One sample photo as uint8 (H, W, 3), loaded from the scikit-image package."""
    try:
        from skimage import data
    except ImportError:
        raise AekitError(
            "the photos dataset needs scikit-image: pip install scikit-image"
        ) from None
    if name not in PHOTOS:
        raise AekitError(f"unknown sample photo {name!r}; photos has: {', '.join(PHOTOS)}")
    try:
        # stereo_motorcycle() is (left, right, disparity); the right image is near-identical.
        image = data.stereo_motorcycle()[0] if name == "motorcycle" else getattr(data, name)()
    except (ModuleNotFoundError, OSError) as e:  # a scikit-image that would need to download it
        raise AekitError(
            f"scikit-image could not load its sample photo {name!r} offline ({e}); "
            "reinstall scikit-image (pip install --force-reinstall scikit-image)"
        ) from None
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise AekitError(
            f"scikit-image's {name!r} is {image.dtype} {image.shape}, not uint8 RGB; "
            "this scikit-image version is not supported by the photos dataset"
        )
    return image


def cut_patches(image: np.ndarray, size: int) -> np.ndarray:
    """uint8 (H, W, 3) -> (N, 3, size, size): a row-major, non-overlapping grid of patches."""
    h, w, c = image.shape
    rows, cols = h // size, w // size
    grid = image[: rows * size, : cols * size].reshape(rows, size, cols, size, c)
    patches = grid.transpose(0, 2, 4, 1, 3).reshape(rows * cols, c, size, size)  # (N, C, s, s)
    return np.ascontiguousarray(patches)


def check_patch_size(size: int) -> None:
    """A patch must be at least MIN_PATCH and fit inside the smallest photo."""
    smallest = 300  # chelsea's height
    if isinstance(size, bool) or not isinstance(size, int | np.integer):
        raise AekitError(f"photos patch size (image_size) must be an integer, got {size!r}")
    if not MIN_PATCH <= size <= smallest:
        raise AekitError(
            f"photos patch size (image_size) must be in [{MIN_PATCH}, {smallest}], got {size}; "
            f"e.g. --set data.image_size={DEFAULT_PATCH}"
        )


def load_photo_sets(patch_size: int = DEFAULT_PATCH) -> tuple[ImageSet, ImageSet]:
    """(training pool, test) of uint8 (N, 3, patch, patch) patches, labelled by photo index."""
    check_patch_size(patch_size)
    parts: dict[bool, list[ImageSet]] = {False: [], True: []}  # is-test -> per-photo patches
    for label, name in enumerate(PHOTOS):
        patches = cut_patches(load_photo(name), int(patch_size))
        labels = np.full(len(patches), label, dtype=np.int64)
        parts[name in TEST_PHOTOS].append(ImageSet(patches, labels))
    pool, test = (
        ImageSet(
            np.ascontiguousarray(np.concatenate([s.images for s in sets])),
            np.concatenate([s.labels for s in sets if s.labels is not None]),
        )
        for sets in (parts[False], parts[True])
    )
    return pool, test
