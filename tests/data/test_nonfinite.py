"""NaN or infinite pixels are refused when the data is loaded, naming the file (and the image),
in every format that can hold them; a NaN that slipped through would surface only later, as a
NaN loss far from its cause."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from aekit.errors import AekitError
from aekit.modalities.images.data import load_dataset, write_idx


def images_with(bad: float, dtype=np.float32) -> np.ndarray:
    x = np.full((6, 4, 4), 0.5, dtype)
    x[2, 1, 3] = bad  # image 2
    return x


BAD = [np.nan, np.inf, -np.inf]


def assert_refused(path, what: str) -> None:
    with pytest.raises(AekitError) as info:
        load_dataset(str(path), test_fraction=0)
    message = str(info.value)
    assert what in message and "NaN or infinity" in message and "\n" not in message


@pytest.mark.parametrize("bad", BAD)
@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_npy(tmp_path, bad, dtype):
    np.save(tmp_path / "x.npy", images_with(bad, dtype))
    assert_refused(tmp_path / "x.npy", f"{tmp_path / 'x.npy'} holds NaN or infinity in 1 of")
    assert_refused(tmp_path / "x.npy", "(the first is image 2)")


@pytest.mark.parametrize("bad", BAD)
@pytest.mark.parametrize("key", ["x_train", "x_test", "images", "arr_0"])
def test_npz_under_every_key_convention(tmp_path, bad, key):
    good = np.full((6, 4, 4), 0.5, np.float32)
    arrays = {key: images_with(bad)}
    if key == "x_test":
        arrays["x_train"] = good
    np.savez(tmp_path / "d.npz", **arrays)
    assert_refused(tmp_path / "d.npz", f"[{key!r}] holds NaN or infinity")


def test_float_labels_must_be_finite(tmp_path):
    np.savez(tmp_path / "d.npz", x=np.zeros((3, 4, 4), np.uint8), y=np.array([0, np.nan, 1]))
    with pytest.raises(AekitError, match=r"\['y'\] must hold whole-number class labels"):
        load_dataset(str(tmp_path / "d.npz"), test_fraction=0)


def test_a_float_tiff_in_a_folder(tmp_path):
    """PNG and JPEG hold integers only, but Pillow opens by content: a float TIFF named .png is
    read as 32-bit float pixels, where NaN must not silently become 0."""
    pixels = np.full((8, 8), 100.0, np.float32)
    pixels[3, 3] = np.nan
    Image.fromarray(pixels, mode="F").save(tmp_path / "a.png", format="TIFF")
    Image.fromarray(np.full((8, 8), 100, np.uint8)).save(tmp_path / "b.png")
    with pytest.raises(AekitError, match=r"a\.png .*float pixels hold NaN or infinity"):
        load_dataset(str(tmp_path), test_fraction=0)


def test_idx_images_cannot_carry_nan(tmp_path):
    """IDX can store float32, but image files must be uint8, so a float file (NaN or not) is
    refused by its dtype."""
    for stem, n in (("train", 6), ("t10k", 2)):
        write_idx(tmp_path / f"{stem}-images-idx3-ubyte", images_with(np.nan)[:n])
        write_idx(tmp_path / f"{stem}-labels-idx1-ubyte", np.zeros(n, np.uint8))
    with pytest.raises(AekitError, match="should hold uint8 images"):
        load_dataset("mnist", data_dir=tmp_path, download=False)
