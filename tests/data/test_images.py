"""Image file I/O: modes, conversions, resizing, limits, broken files, atomic writes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from aekit.errors import AekitError
from aekit.modalities.images.data.images import (
    convert_channels,
    read_image,
    resize_images,
    write_image,
)


def rgb_pixels(h: int = 6, w: int = 5, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


# --------------------------------------------------------------------------- writing


def test_write_read_png_gray_2d(tmp_path: Path) -> None:
    a = np.arange(30, dtype=np.uint8).reshape(5, 6)
    write_image(tmp_path / "g.png", a)
    back = read_image(tmp_path / "g.png")
    assert back.shape == (1, 5, 6) and back.dtype == np.uint8
    np.testing.assert_array_equal(back[0], a)


def test_write_read_png_rgb_chw(tmp_path: Path) -> None:
    chw = rgb_pixels().transpose(2, 0, 1)
    write_image(tmp_path / "c.PNG", chw)
    back = read_image(tmp_path / "c.PNG")
    assert back.flags.c_contiguous
    np.testing.assert_array_equal(back, chw)


def test_write_float_scales_and_rounds(tmp_path: Path) -> None:
    write_image(tmp_path / "f.png", np.array([[[0.0, 0.5, 1.0, 0.002]]], dtype=np.float32))
    np.testing.assert_array_equal(read_image(tmp_path / "f.png")[0, 0], [0, 128, 255, 1])


def test_write_jpeg_is_close(tmp_path: Path) -> None:
    a = np.full((3, 16, 16), 120, dtype=np.uint8)
    write_image(tmp_path / "j.jpg", a)
    back = read_image(tmp_path / "j.jpg")
    assert back.shape == (3, 16, 16)
    assert np.abs(back.astype(int) - 120).max() <= 3


def test_write_creates_parent_and_leaves_no_temp_files(tmp_path: Path) -> None:
    write_image(tmp_path / "a" / "b" / "x.png", np.zeros((4, 4), np.uint8))
    assert [p.name for p in (tmp_path / "a" / "b").iterdir()] == ["x.png"]


def test_failed_write_keeps_old_file_and_no_temp(tmp_path: Path, monkeypatch) -> None:
    target = tmp_path / "x.png"
    write_image(target, np.zeros((4, 4), np.uint8))
    before = target.read_bytes()

    def broken_save(self, *args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(Image.Image, "save", broken_save)
    with pytest.raises(OSError):
        write_image(target, np.ones((4, 4), np.uint8))
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["x.png"]


@pytest.mark.parametrize(
    ("name", "array", "match"),
    [
        ("x.bmp", np.zeros((2, 2), np.uint8), r"\.png, \.jpg"),
        ("x.png", np.zeros((2, 2, 2, 2), np.uint8), "shape"),
        ("x.png", np.zeros((4, 2, 2), np.uint8), "C = 1 or 3"),
        ("x.png", np.zeros((0, 2), np.uint8), "empty"),
        ("x.png", np.full((2, 2), 1.5), r"\[0, 1\]"),
        ("x.png", np.full((2, 2), -0.1), r"clip"),
        ("x.png", np.full((2, 2), np.nan), "NaN"),
        ("x.png", np.zeros((2, 2), np.int16), "dtype int16"),
    ],
)
def test_write_refuses_bad_input(tmp_path: Path, name: str, array: np.ndarray, match: str) -> None:
    with pytest.raises(AekitError, match=match):
        write_image(tmp_path / name, array)
    assert not list(tmp_path.iterdir())


# --------------------------------------------------------------------------- reading modes


def test_gray_to_rgb_replicates(tmp_path: Path) -> None:
    Image.fromarray(np.arange(20, dtype=np.uint8).reshape(4, 5)).save(tmp_path / "g.png")
    out = read_image(tmp_path / "g.png", channels=3)
    assert out.shape == (3, 4, 5)
    assert (out[0] == out[1]).all() and (out[1] == out[2]).all()


def test_rgb_to_gray_matches_pillow(tmp_path: Path) -> None:
    im = Image.fromarray(rgb_pixels(16, 16))
    im.save(tmp_path / "c.png")
    out = read_image(tmp_path / "c.png", channels=1)
    np.testing.assert_array_equal(out[0], np.asarray(im.convert("L")))


def test_array_gray_conversion_matches_pillow() -> None:
    rgb = rgb_pixels(32, 32, seed=3)
    ours = convert_channels(rgb.transpose(2, 0, 1)[None], 1)[0, 0]
    np.testing.assert_array_equal(ours, np.asarray(Image.fromarray(rgb).convert("L")))


def test_rgba_is_composited_over_black(tmp_path: Path) -> None:
    px = np.zeros((1, 3, 4), dtype=np.uint8)
    px[0, 0] = [200, 100, 50, 255]  # opaque
    px[0, 1] = [200, 100, 50, 0]  # fully transparent: colour must not leak through
    px[0, 2] = [200, 100, 50, 128]  # half
    Image.fromarray(px, "RGBA").save(tmp_path / "a.png")
    out = read_image(tmp_path / "a.png")
    assert out.shape == (3, 1, 3)
    assert out[:, 0, 0].tolist() == [200, 100, 50]
    assert out[:, 0, 1].tolist() == [0, 0, 0]
    assert out[:, 0, 2].tolist() == [100, 50, 25]


def test_gray_alpha_stays_gray(tmp_path: Path) -> None:
    px = np.array([[[255, 255], [255, 0]]], dtype=np.uint8)
    Image.fromarray(px, "LA").save(tmp_path / "la.png")
    out = read_image(tmp_path / "la.png")
    assert out.shape == (1, 1, 2) and out[0, 0].tolist() == [255, 0]


def test_colour_palette_becomes_rgb(tmp_path: Path) -> None:
    im = Image.fromarray(rgb_pixels(8, 8)).convert("P", palette=Image.Palette.ADAPTIVE, colors=8)
    im.save(tmp_path / "p.png")
    out = read_image(tmp_path / "p.png")
    np.testing.assert_array_equal(out, np.asarray(im.convert("RGB")).transpose(2, 0, 1))


def test_gray_palette_stays_gray(tmp_path: Path) -> None:
    im = Image.new("P", (3, 2))
    im.putpalette([v for i in range(256) for v in (i, i, i)])
    im.putdata([0, 10, 20, 30, 40, 255])
    im.save(tmp_path / "gp.png")
    out = read_image(tmp_path / "gp.png")
    assert out.shape == (1, 2, 3)
    assert out[0].ravel().tolist() == [0, 10, 20, 30, 40, 255]


def test_sixteen_bit_png_is_scaled(tmp_path: Path) -> None:
    a = np.array([[0, 257, 65535]], dtype=np.uint16)
    Image.fromarray(a).save(tmp_path / "16.png")
    assert read_image(tmp_path / "16.png")[0, 0].tolist() == [0, 1, 255]


def test_bilevel_image(tmp_path: Path) -> None:
    Image.fromarray(np.array([[0, 255]], dtype=np.uint8)).convert("1").save(tmp_path / "b.png")
    assert read_image(tmp_path / "b.png")[0, 0].tolist() == [0, 255]


# --------------------------------------------------------------------------- resizing


def test_resize_to_height_width(tmp_path: Path) -> None:
    Image.fromarray(rgb_pixels(40, 30)).save(tmp_path / "c.png")
    out = read_image(tmp_path / "c.png", size=(10, 20))
    assert out.shape == (3, 10, 20)


def test_resize_keeps_constant_images_constant() -> None:
    images = np.full((2, 3, 17, 9), 77, dtype=np.uint8)
    out = resize_images(images, (5, 11))
    assert out.shape == (2, 3, 5, 11) and (out == 77).all()


def test_resize_gray_batch_matches_pillow() -> None:
    images = np.random.default_rng(1).integers(0, 256, (3, 1, 20, 20), dtype=np.uint8)
    out = resize_images(images, (7, 7))
    expected = Image.fromarray(images[2, 0]).resize((7, 7), Image.Resampling.BICUBIC)
    np.testing.assert_array_equal(out[2, 0], np.asarray(expected))


@pytest.mark.parametrize("size", [(0, 3), (3,), (2.5, 3), "big"])
def test_bad_size_refused(tmp_path: Path, size) -> None:
    Image.fromarray(rgb_pixels()).save(tmp_path / "c.png")
    with pytest.raises(AekitError, match="size must be"):
        read_image(tmp_path / "c.png", size=size)


def test_bad_channels_refused(tmp_path: Path) -> None:
    Image.fromarray(rgb_pixels()).save(tmp_path / "c.png")
    with pytest.raises(AekitError, match="channels must be"):
        read_image(tmp_path / "c.png", channels=2)


# --------------------------------------------------------------------------- broken files


def test_pixel_limit_checked_before_decoding(tmp_path: Path, monkeypatch) -> None:
    Image.new("L", (100, 100)).save(tmp_path / "big.png")

    def no_decoding(self, *args, **kwargs):
        raise AssertionError("decoded before checking the size")

    monkeypatch.setattr(Image.Image, "load", no_decoding)
    monkeypatch.setattr(Image.Image, "convert", no_decoding)
    with pytest.raises(AekitError, match="10000 pixels, over max_pixels=5000"):
        read_image(tmp_path / "big.png", max_pixels=5000)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(AekitError, match="not found"):
        read_image(tmp_path / "none.png")


def test_empty_file(tmp_path: Path) -> None:
    (tmp_path / "e.png").write_bytes(b"")
    with pytest.raises(AekitError, match="empty"):
        read_image(tmp_path / "e.png")


def test_not_an_image(tmp_path: Path) -> None:
    (tmp_path / "t.png").write_text("hello, I am text")
    with pytest.raises(AekitError, match="t.png") as info:
        read_image(tmp_path / "t.png")
    assert "\n" not in str(info.value)


def test_truncated_png(tmp_path: Path) -> None:
    Image.fromarray(rgb_pixels(64, 64)).save(tmp_path / "full.png")
    data = (tmp_path / "full.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(AekitError, match="cut.png"):
        read_image(tmp_path / "cut.png")


# --------------------------------------------------------------------------- bytes in memory


def test_read_image_bytes_matches_the_file_path_and_keeps_the_limits(tmp_path: Path) -> None:
    from aekit.modalities.images.data.images import ImageTooLarge, read_image_bytes

    path = tmp_path / "rgba.png"
    rgba = np.dstack([rgb_pixels(8, 9), np.full((8, 9), 128, np.uint8)])
    Image.fromarray(rgba).save(path)
    data = path.read_bytes()
    for kwargs in ({}, {"channels": 1}, {"size": (4, 5)}):
        np.testing.assert_array_equal(read_image_bytes(data, **kwargs), read_image(path, **kwargs))
    with pytest.raises(ImageTooLarge, match="'up.png' is 9x8 = 72 pixels, over max_pixels=50"):
        read_image_bytes(data, name="'up.png'", max_pixels=50)
    with pytest.raises(AekitError, match=r"^cannot read up as an image \(unknown format\)$"):
        read_image_bytes(b"not an image", name="up")
    with pytest.raises(AekitError, match="empty"):
        read_image_bytes(b"")
