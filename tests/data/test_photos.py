"""The offline `photos` dataset: patch grid, photo-held-out test split, determinism."""

from __future__ import annotations

import numpy as np
import pytest

from aekit.errors import AekitError
from aekit.modalities.images.data import ImageSet, list_datasets, load_dataset
from aekit.modalities.images.data.photos import (
    PHOTOS,
    TEST_PHOTOS,
    cut_patches,
    load_photo,
    load_photo_sets,
)


@pytest.fixture(scope="module")
def sets() -> tuple[ImageSet, ImageSet]:
    return load_photo_sets()


def test_every_photo_loads_offline_as_uint8_rgb() -> None:
    for name in PHOTOS:
        image = load_photo(name)
        assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3


def test_patches_are_uint8_rgb_32x32_labelled_by_photo(sets: tuple[ImageSet, ImageSet]) -> None:
    pool, test = sets
    for s in (pool, test):
        assert s.images.dtype == np.uint8 and s.images.shape[1:] == (3, 32, 32)
        assert s.labels is not None and s.labels.dtype == np.int64
    assert (len(pool), len(test)) == (1243, 216)


def test_test_split_holds_out_whole_photos(sets: tuple[ImageSet, ImageSet]) -> None:
    pool, test = sets
    held_out = {PHOTOS.index(name) for name in TEST_PHOTOS}
    assert set(test.labels.tolist()) == held_out
    assert set(pool.labels.tolist()) == set(range(len(PHOTOS))) - held_out


def test_cut_patches_is_a_non_overlapping_row_major_grid() -> None:
    image = np.arange(10 * 13 * 3, dtype=np.int64).reshape(10, 13, 3).astype(np.uint8)
    patches = cut_patches(image, 4)  # 2 rows x 3 cols; the right and bottom strips are dropped
    assert patches.shape == (6, 3, 4, 4) and patches.flags.c_contiguous
    assert np.array_equal(patches[0], image[:4, :4].transpose(2, 0, 1))
    assert np.array_equal(patches[5], image[4:8, 8:12].transpose(2, 0, 1))


def test_a_patch_is_the_photo_pixels(sets: tuple[ImageSet, ImageSet]) -> None:
    coffee = load_photo("coffee")  # 400x600: 18 patches per row
    assert np.array_equal(sets[1].images[19], coffee[32:64, 32:64].transpose(2, 0, 1))


def test_load_dataset_photos_is_deterministic() -> None:
    a, b = load_dataset("photos"), load_dataset("photos")
    assert a.image_shape == (3, 32, 32) and a.classes == PHOTOS and a.location == "scikit-image"
    assert len(a.train) + len(a.val) == 1243 and len(a.test) == 216
    for x, y in ((a.train, b.train), (a.val, b.val), (a.test, b.test)):
        assert np.array_equal(x.images, y.images) and np.array_equal(x.labels, y.labels)


def test_image_size_sets_the_patch_size() -> None:
    ds = load_dataset("photos", image_size=64, val_fraction=0.0, channels=1)
    assert ds.image_shape == (1, 64, 64)
    assert len(ds.test) == (400 // 64) * (600 // 64)  # coffee


@pytest.mark.parametrize("size", [7, 301])
def test_bad_patch_sizes_are_errors(size: int) -> None:
    with pytest.raises(
        AekitError, match=rf"patch size \(image_size\) must be in \[8, 300\], got {size}"
    ):
        load_dataset("photos", image_size=size)


def test_photos_is_listed_as_available() -> None:
    rows = {r.name: r for r in list_datasets()}
    assert rows["photos"].found == "scikit-image"
    assert "scikit-image" in rows["photos"].how_to_get
