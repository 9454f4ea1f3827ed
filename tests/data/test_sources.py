"""load_dataset / list_datasets on tiny data made here, and on Debian's Fashion-MNIST if present.

Every test runs with AEKIT_DATA unset and XDG_CACHE_HOME in tmp_path, so nothing on the
machine (except the system copies the search order is meant to find) leaks in.
"""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from aekit.errors import AekitError
from aekit.modalities.images.data import Dataset, ImageSet, list_datasets, load_dataset, write_idx
from aekit.modalities.images.data.sources import cache_root

DEBIAN_FASHION = Path("/usr/share/datasets/fashion-mnist")


def numbered_images(n: int, h: int = 6, w: int = 5, c: int = 1) -> np.ndarray:
    """(n, c, h, w) uint8 where image i carries its own index in its first two pixels."""
    images = np.random.default_rng(n).integers(0, 256, (n, c, h, w), dtype=np.uint8)
    images[:, 0, 0, 0] = np.arange(n) % 256
    images[:, 0, 0, 1] = np.arange(n) // 256
    return images


def ids(s: ImageSet) -> set[int]:
    first = s.images[:, 0, 0, :2].astype(int)
    return set((first[:, 0] + 256 * first[:, 1]).tolist())


def make_idx_dir(d: Path, n_train: int = 50, n_test: int = 20, gz: bool = True) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    ext = ".gz" if gz else ""
    rng = np.random.default_rng(1)
    write_idx(d / f"train-images-idx3-ubyte{ext}", numbered_images(n_train)[:, 0])
    write_idx(d / f"train-labels-idx1-ubyte{ext}", rng.integers(0, 10, n_train).astype(np.uint8))
    write_idx(d / f"t10k-images-idx3-ubyte{ext}", numbered_images(n_test)[:, 0] + 0)
    write_idx(d / f"t10k-labels-idx1-ubyte{ext}", rng.integers(0, 10, n_test).astype(np.uint8))
    return d


# --------------------------------------------------------------------------- IDX sets


def test_idx_set_from_data_dir(tmp_path: Path) -> None:
    d = make_idx_dir(tmp_path / "m")
    ds = load_dataset("mnist", data_dir=d, download=False)
    assert isinstance(ds, Dataset)
    assert ds.name == "mnist" and ds.location == str(d)
    assert ds.image_shape == (1, 6, 5)
    assert (len(ds.train), len(ds.val), len(ds.test)) == (45, 5, 20)
    assert ds.classes == tuple("0123456789")
    for part in (ds.train, ds.val, ds.test):
        assert part.images.dtype == np.uint8 and part.images.flags.c_contiguous
        assert part.labels is not None and part.labels.dtype == np.int64
    assert ids(ds.train) | ids(ds.val) == set(range(50))
    assert not ids(ds.train) & ids(ds.val)


def test_raw_and_dotted_file_names_are_found(tmp_path: Path) -> None:
    d = make_idx_dir(tmp_path / "raw", gz=False)
    (d / "train-images-idx3-ubyte").rename(d / "train-images.idx3-ubyte")
    assert len(load_dataset("kmnist", data_dir=d, download=False).test) == 20


def test_split_is_deterministic_and_seeded(tmp_path: Path) -> None:
    d = make_idx_dir(tmp_path / "m", n_train=200)
    a = load_dataset("mnist", data_dir=d, download=False, seed=3)
    b = load_dataset("mnist", data_dir=d, download=False, seed=3)
    c = load_dataset("mnist", data_dir=d, download=False, seed=4)
    np.testing.assert_array_equal(a.val.images, b.val.images)
    np.testing.assert_array_equal(a.train.labels, b.train.labels)
    assert ids(a.val) != ids(c.val)


def test_val_fraction_zero_gives_empty_val(tmp_path: Path) -> None:
    ds = load_dataset(
        "mnist", data_dir=make_idx_dir(tmp_path / "m"), val_fraction=0, download=False
    )
    assert ds.val.images.shape == (0, 1, 6, 5) and ds.val.labels.shape == (0,)
    assert len(ds.train) == 50


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"val_fraction": 1.0}, "val_fraction"),
        ({"val_fraction": -0.1}, "val_fraction"),
        ({"val_fraction": "0.1"}, "val_fraction"),
        ({"test_fraction": 1.5}, "test_fraction"),
        ({"limit": 0}, "limit"),
        ({"image_size": 0}, "image_size"),
        ({"channels": 2}, "channels"),
        ({"seed": -1}, "seed"),
    ],
)
def test_bad_arguments_fail_before_reading(kwargs: dict, match: str) -> None:
    with pytest.raises(AekitError, match=match):
        load_dataset("mnist", data_dir="/nonexistent", download=False, **kwargs)


def test_limit_caps_train_and_keeps_val(tmp_path: Path) -> None:
    d = make_idx_dir(tmp_path / "m", n_train=100)
    full = load_dataset("mnist", data_dir=d, download=False)
    small = load_dataset("mnist", data_dir=d, download=False, limit=7)
    assert len(small.train) == 7
    assert ids(small.train) <= ids(full.train)
    np.testing.assert_array_equal(small.val.images, full.val.images)
    assert len(load_dataset("mnist", data_dir=d, download=False, limit=10_000).train) == 90


def test_image_size_and_channels_apply_to_every_split(tmp_path: Path) -> None:
    d = make_idx_dir(tmp_path / "m")
    ds = load_dataset("mnist", data_dir=d, download=False, image_size=9, channels=3)
    assert ds.image_shape == (3, 9, 9)
    for part in (ds.train, ds.val, ds.test):
        assert part.images.shape[1:] == (3, 9, 9) and part.images.flags.c_contiguous


def test_aekit_data_env_with_subdirectory(tmp_path: Path, monkeypatch) -> None:
    make_idx_dir(tmp_path / "store" / "kmnist")
    monkeypatch.setenv("AEKIT_DATA", str(tmp_path / "store"))
    ds = load_dataset("kmnist", download=False)
    assert ds.location == str(tmp_path / "store" / "kmnist")
    assert ds.classes is not None and ds.classes[1] == "ki"


def test_data_dir_wins_over_env(tmp_path: Path, monkeypatch) -> None:
    make_idx_dir(tmp_path / "env", n_train=30)
    monkeypatch.setenv("AEKIT_DATA", str(tmp_path / "env"))
    ds = load_dataset("mnist", data_dir=make_idx_dir(tmp_path / "arg"), download=False)
    assert ds.location == str(tmp_path / "arg")


def test_user_cache_respects_xdg(tmp_path: Path) -> None:
    assert cache_root() == tmp_path / "xdg-cache" / "aekit"
    make_idx_dir(cache_root() / "mnist")
    assert load_dataset("MNIST", download=False).location == str(cache_root() / "mnist")


def test_not_found_offline_is_one_line_with_how_to(tmp_path: Path) -> None:
    with pytest.raises(AekitError) as info:
        load_dataset("mnist", download=False)
    msg = str(info.value)
    assert "\n" not in msg
    assert "AEKIT_DATA" in msg and str(cache_root() / "mnist") in msg
    assert "train-images-idx3-ubyte.gz" in msg


def test_partial_copy_is_reported(tmp_path: Path) -> None:
    d = make_idx_dir(tmp_path / "m")
    (d / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(AekitError, match="lacks t10k-labels-idx1-ubyte"):
        load_dataset("mnist", data_dir=d, download=False)


def test_label_count_mismatch(tmp_path: Path) -> None:
    d = make_idx_dir(tmp_path / "m")
    write_idx(d / "train-labels-idx1-ubyte.gz", np.zeros(49, np.uint8))
    with pytest.raises(AekitError, match="49 labels but .* 50 images"):
        load_dataset("mnist", data_dir=d, download=False)


def test_label_out_of_range(tmp_path: Path) -> None:
    d = make_idx_dir(tmp_path / "m")
    write_idx(d / "t10k-labels-idx1-ubyte.gz", np.full(20, 10, np.uint8))
    with pytest.raises(AekitError, match="label 10 is out of range for 10 classes"):
        load_dataset("mnist", data_dir=d, download=False)


def test_wrong_idx_content(tmp_path: Path) -> None:
    d = make_idx_dir(tmp_path / "m")
    write_idx(d / "train-images-idx3-ubyte.gz", np.zeros((50, 6, 5), np.float32))
    with pytest.raises(AekitError, match="should hold uint8 images"):
        load_dataset("mnist", data_dir=d, download=False)


def test_truncated_file_in_set(tmp_path: Path) -> None:
    d = make_idx_dir(tmp_path / "m", gz=False)
    f = d / "train-images-idx3-ubyte"
    f.write_bytes(f.read_bytes()[:-10])
    with pytest.raises(AekitError, match="truncated"):
        load_dataset("mnist", data_dir=d, download=False)


@pytest.mark.skipif(not DEBIAN_FASHION.is_dir(), reason="apt-get install dataset-fashion-mnist")
def test_debian_fashion_mnist_for_real() -> None:
    ds = load_dataset("fashion-mnist", download=False)
    assert ds.location == str(DEBIAN_FASHION)
    assert (len(ds.train), len(ds.val), len(ds.test)) == (54000, 6000, 10000)
    assert ds.image_shape == (1, 28, 28)
    assert (
        ds.classes is not None and ds.classes[0] == "T-shirt/top" and ds.classes[9] == "Ankle boot"
    )
    counts = np.bincount(np.concatenate([ds.train.labels, ds.val.labels]), minlength=10)
    assert counts.tolist() == [6000] * 10  # Fashion-MNIST is exactly balanced
    assert np.bincount(ds.test.labels).tolist() == [1000] * 10
    assert ds.train.images.max() == 255


# --------------------------------------------------------------------------- digits


def test_digits() -> None:
    ds = load_dataset("digits")
    assert ds.location == "scikit-learn" and ds.image_shape == (1, 8, 8)
    assert len(ds.train) + len(ds.val) + len(ds.test) == 1797
    assert len(ds.test) == 359  # 20% of 1797, rounded
    assert ds.train.images.max() == 255 and ds.train.images.min() == 0
    assert set(np.unique(ds.train.images)) <= {round(v * 255 / 16) for v in range(17)} | {128}
    again = load_dataset("digits")
    np.testing.assert_array_equal(ds.test.images, again.test.images)


def test_digits_test_fraction() -> None:
    ds = load_dataset("digits", test_fraction=0.5, val_fraction=0.0)
    assert len(ds.test) == 899 and len(ds.val) == 0


# --------------------------------------------------------------------------- cifar10

CIFAR_NAMES = [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]


def cifar_bytes(n: int, seed: int, label_max: int = 9) -> tuple[bytes, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, label_max + 1, n, dtype=np.uint8)
    images = rng.integers(0, 256, (n, 3, 32, 32), dtype=np.uint8)
    records = np.concatenate([labels[:, None], images.reshape(n, -1)], axis=1)
    return records.tobytes(), images


def make_cifar_dir(d: Path, n: int = 3) -> dict[str, np.ndarray]:
    d.mkdir(parents=True, exist_ok=True)
    out = {}
    for i, name in enumerate(CIFAR_NAMES):
        data, images = cifar_bytes(n, i)
        (d / name).write_bytes(data)
        out[name] = images
    (d / "batches.meta.txt").write_text("\n".join(f"class{i}" for i in range(10)) + "\n\n")
    return out


def test_cifar_binary_dir(tmp_path: Path) -> None:
    made = make_cifar_dir(tmp_path / "c" / "cifar-10-batches-bin")
    ds = load_dataset("cifar10", data_dir=tmp_path / "c", val_fraction=0, download=False)
    assert ds.image_shape == (3, 32, 32) and len(ds.train) == 15
    assert ds.classes == tuple(f"class{i}" for i in range(10))
    np.testing.assert_array_equal(ds.test.images, made["test_batch.bin"])  # CHW, untouched
    np.testing.assert_array_equal(ds.train.images[:3], made["data_batch_1.bin"])


def make_tar(path: Path, members: dict[str, bytes], extra=None) -> None:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        if extra:
            extra(tar)


def test_cifar_archive_is_extracted_into_cache_once(tmp_path: Path) -> None:
    src = make_cifar_dir(tmp_path / "src")
    members = {
        f"cifar-10-batches-bin/{n}": (tmp_path / "src" / n).read_bytes() for n in CIFAR_NAMES
    }

    def add_symlink(tar: tarfile.TarFile) -> None:
        link = tarfile.TarInfo("cifar-10-batches-bin/evil-link")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tar.addfile(link)

    (tmp_path / "d").mkdir()
    make_tar(tmp_path / "d" / "cifar-10-binary.tar.gz", members, add_symlink)
    ds = load_dataset("cifar10", data_dir=tmp_path / "d", download=False)
    extracted = cache_root() / "cifar10" / "cifar-10-batches-bin"
    assert ds.location == str(extracted)
    assert not (extracted / "evil-link").exists()
    np.testing.assert_array_equal(ds.test.images, src["test_batch.bin"])
    again = load_dataset("cifar10", data_dir=tmp_path / "d", download=False)
    assert again.location == str(extracted)


@pytest.mark.parametrize("bad", ["../evil.bin", "/abs/evil.bin", "a/../../evil.bin"])
def test_cifar_archive_with_unsafe_path_refused(tmp_path: Path, bad: str) -> None:
    (tmp_path / "d").mkdir()
    make_tar(tmp_path / "d" / "cifar-10-binary.tar.gz", {bad: b"x"})
    with pytest.raises(AekitError, match="unsafe path"):
        load_dataset("cifar10", data_dir=tmp_path / "d", download=False)
    assert not (tmp_path / "evil.bin").exists()


def test_cifar_bad_label_and_truncation(tmp_path: Path) -> None:
    d = tmp_path / "c"
    make_cifar_dir(d)
    (d / "data_batch_2.bin").write_bytes(cifar_bytes(2, 0, label_max=99)[0])
    with pytest.raises(AekitError, match="data_batch_2.bin has label"):
        load_dataset("cifar10", data_dir=d, download=False)
    (d / "data_batch_2.bin").write_bytes(cifar_bytes(2, 0)[0][:-1])
    with pytest.raises(AekitError, match="not a whole number"):
        load_dataset("cifar10", data_dir=d, download=False)


def test_cifar_python_version_is_named_not_loaded(tmp_path: Path) -> None:
    (tmp_path / "d" / "cifar-10-batches-py").mkdir(parents=True)
    with pytest.raises(AekitError, match="pickled python version"):
        load_dataset("cifar10", data_dir=tmp_path / "d", download=False)


# --------------------------------------------------------------------------- folders


def save(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


def gray(v: int, h: int = 6, w: int = 5) -> np.ndarray:
    return np.full((h, w), v, dtype=np.uint8)


def test_flat_folder_is_unlabeled(tmp_path: Path) -> None:
    for i in range(10):
        save(tmp_path / "f" / f"{i}.png", gray(i))
    (tmp_path / "f" / ".hidden.png").write_bytes(b"not an image")  # macOS debris: skipped
    (tmp_path / "f" / "notes.txt").write_text("ignored")
    ds = load_dataset(str(tmp_path / "f"), val_fraction=0.1, test_fraction=0.2)
    assert ds.name == f"folder:{tmp_path / 'f'}" and ds.classes is None
    assert ds.train.labels is None and ds.image_shape == (1, 6, 5)
    assert (len(ds.train), len(ds.val), len(ds.test)) == (7, 1, 2)


def test_class_folders_become_sorted_labels(tmp_path: Path) -> None:
    for cls, v in (("zebra", 200), ("ant", 10), ("cat", 100)):
        for i in range(4):
            save(tmp_path / "f" / cls / "deeper" / f"{i}.jpg", gray(v))
    ds = load_dataset(f"folder:{tmp_path / 'f'}", val_fraction=0, test_fraction=0)
    assert ds.classes == ("ant", "cat", "zebra")
    means = {
        int(lbl): float(img.mean())
        for img, lbl in zip(ds.train.images, ds.train.labels, strict=True)
    }
    assert abs(means[0] - 10) < 3 and abs(means[1] - 100) < 3 and abs(means[2] - 200) < 3


def test_train_test_folder_layout(tmp_path: Path) -> None:
    for split, n in (("train", 6), ("test", 2)):
        for cls in ("a", "b"):
            for i in range(n):
                save(tmp_path / "f" / split / cls / f"{i}.png", gray(i))
    ds = load_dataset(str(tmp_path / "f"), val_fraction=0)
    assert ds.classes == ("a", "b") and (len(ds.train), len(ds.test)) == (12, 4)


def test_any_rgb_makes_folder_rgb_unless_forced(tmp_path: Path) -> None:
    save(tmp_path / "f" / "a.png", gray(5))
    save(tmp_path / "f" / "b.png", np.zeros((6, 5, 3), np.uint8))
    assert load_dataset(str(tmp_path / "f"), test_fraction=0, val_fraction=0).image_shape[0] == 3
    forced = load_dataset(str(tmp_path / "f"), channels=1, test_fraction=0, val_fraction=0)
    assert forced.image_shape == (1, 6, 5)


def test_mixed_sizes_need_image_size(tmp_path: Path) -> None:
    save(tmp_path / "f" / "a.png", gray(1, 6, 5))
    save(tmp_path / "f" / "b.png", gray(1, 8, 8))
    with pytest.raises(AekitError, match=r"a.png is 6x5 .* b.png is 8x8.*image_size"):
        load_dataset(str(tmp_path / "f"))
    ds = load_dataset(str(tmp_path / "f"), image_size=4, test_fraction=0, val_fraction=0)
    assert ds.image_shape == (1, 4, 4)


def test_empty_folder(tmp_path: Path) -> None:
    (tmp_path / "f" / "sub").mkdir(parents=True)
    with pytest.raises(AekitError, match="no PNG or JPEG files"):
        load_dataset(f"folder:{tmp_path / 'f'}")


def test_unreadable_image_is_named(tmp_path: Path) -> None:
    save(tmp_path / "f" / "good.png", gray(1))
    (tmp_path / "f" / "broken.png").write_bytes(b"\x89PNG garbage")
    with pytest.raises(AekitError, match="broken.png"):
        load_dataset(str(tmp_path / "f"))


def test_top_level_files_next_to_class_folders(tmp_path: Path) -> None:
    save(tmp_path / "f" / "loose.png", gray(1))
    save(tmp_path / "f" / "cls" / "a.png", gray(1))
    with pytest.raises(AekitError, match="both at the top"):
        load_dataset(str(tmp_path / "f"))


def test_too_few_images_for_fractions(tmp_path: Path) -> None:
    save(tmp_path / "f" / "only.png", gray(1))
    with pytest.raises(AekitError, match="no training images left"):
        load_dataset(str(tmp_path / "f"), test_fraction=0.9)


# --------------------------------------------------------------------------- arrays


def test_npz_train_test_keys(tmp_path: Path) -> None:
    x = numbered_images(40)[:, 0]
    np.savez(
        tmp_path / "d.npz",
        x_train=x,
        y_train=np.arange(40) % 3,
        x_test=x[:8],
        y_test=np.zeros(8, np.int32),
        classes=np.array(["a", "b", "c"]),
    )
    ds = load_dataset(str(tmp_path / "d.npz"), val_fraction=0.25)
    assert ds.name == f"npz:{tmp_path / 'd.npz'}" and ds.classes == ("a", "b", "c")
    assert (len(ds.train), len(ds.val), len(ds.test)) == (30, 10, 8)
    assert ids(ds.train) | ids(ds.val) == set(range(40))


def test_npz_nhwc_float_images_and_labels(tmp_path: Path) -> None:
    x = np.random.default_rng(0).random((10, 4, 3, 3)).astype(np.float32)  # NHWC
    np.savez(tmp_path / "d.npz", images=x, labels=np.arange(10.0))
    ds = load_dataset(f"npz:{tmp_path / 'd.npz'}", val_fraction=0, test_fraction=0)
    assert ds.image_shape == (3, 4, 3)
    everything = np.rint(x * 255).astype(np.uint8).transpose(0, 3, 1, 2)
    np.testing.assert_array_equal(ds.train.images, everything)


def test_npy_and_x_key(tmp_path: Path) -> None:
    np.save(tmp_path / "a.npy", np.zeros((5, 1, 4, 4), np.uint8))
    assert load_dataset(str(tmp_path / "a.npy"), test_fraction=0).image_shape == (1, 4, 4)
    np.savez(tmp_path / "b.npz", x=np.zeros((5, 4, 4), np.uint8), y=np.arange(5))
    assert load_dataset(str(tmp_path / "b.npz")).train.labels is not None


@pytest.mark.parametrize(
    ("arrays", "match"),
    [
        ({"x": np.full((3, 4, 4), np.nan)}, "NaN"),
        ({"x": np.full((3, 4, 4), 2.0)}, r"\[0, 1\]"),
        ({"x": np.zeros((3, 4, 4), np.int32) - 1}, "not 0..255"),
        ({"x": np.zeros((3, 4, 4, 5), np.uint8)}, "expected"),
        ({"x": np.zeros((3, 4), np.uint8)}, "expected"),
        ({"x": np.zeros((3, 4, 4), np.uint8), "y": np.arange(4)}, "4 labels for 3 images"),
        ({"x": np.zeros((3, 4, 4), np.uint8), "y": np.array([0, -1, 2])}, ">= 0"),
        ({"x": np.zeros((3, 4, 4), np.uint8), "y": np.array([0.5, 1, 2])}, "whole-number"),
        ({"foo": np.zeros(3), "bar": np.zeros(3)}, "expected x_train"),
        (
            {"x_train": np.zeros((3, 4, 4), np.uint8), "x_test": np.zeros((2, 5, 5), np.uint8)},
            "x_test images",
        ),
        (
            {
                "x_train": np.zeros((3, 4, 4), np.uint8),
                "y_train": np.arange(3),
                "x_test": np.zeros((2, 4, 4), np.uint8),
            },
            "only one of train/test",
        ),
    ],
)
def test_bad_arrays(tmp_path: Path, arrays: dict, match: str) -> None:
    np.savez(tmp_path / "d.npz", **arrays)
    with pytest.raises(AekitError, match=match):
        load_dataset(str(tmp_path / "d.npz"), test_fraction=0)


def test_pickled_npz_refused(tmp_path: Path) -> None:
    np.savez(tmp_path / "p.npz", x=np.array([{"a": 1}, None], dtype=object))
    with pytest.raises(AekitError, match="pickled"):
        load_dataset(str(tmp_path / "p.npz"))


def test_pickle_file_named_npz_refused(tmp_path: Path) -> None:
    import pickle  # only to craft the hostile file this test must refuse

    (tmp_path / "evil.npz").write_bytes(pickle.dumps({"x": [1, 2, 3]}))
    with pytest.raises(AekitError, match="pickled"):
        load_dataset(str(tmp_path / "evil.npz"))


def test_missing_array_file(tmp_path: Path) -> None:
    with pytest.raises(AekitError, match="array file not found"):
        load_dataset(str(tmp_path / "nope.npz"))


# --------------------------------------------------------------------------- names, listing


def test_unknown_name_suggests() -> None:
    with pytest.raises(AekitError, match="did you mean 'fashion-mnist'") as info:
        load_dataset("fashon_mnist", download=False)
    assert "\n" not in str(info.value)


def test_aliases() -> None:
    with pytest.raises(AekitError, match="kmnist not found"):
        load_dataset("Kuzushiji_MNIST", download=False)


def test_nonexistent_path(tmp_path: Path) -> None:
    with pytest.raises(AekitError, match="no such directory"):
        load_dataset(str(tmp_path / "missing"))


def test_list_datasets(tmp_path: Path) -> None:
    make_idx_dir(tmp_path / "mnist")
    rows = {r.name: r for r in list_datasets(data_dir=tmp_path)}
    assert {"mnist", "fashion-mnist", "kmnist", "digits", "cifar10"} <= set(rows)
    assert rows["mnist"].found == str(tmp_path / "mnist")
    assert rows["kmnist"].found is None and "AEKIT_DATA" in rows["kmnist"].how_to_get
    assert rows["digits"].found == "scikit-learn"
    assert "apt-get install dataset-fashion-mnist" in rows["fashion-mnist"].how_to_get
    assert not list(cache_root().parent.glob("**/*"))  # listing never downloads or writes


def test_imageset_checks_and_subset() -> None:
    s = ImageSet(np.zeros((4, 1, 2, 2), np.uint8), np.arange(4, dtype=np.int64))
    assert len(s) == 4
    sub = s.subset(np.array([3, 1]))
    assert sub.labels.tolist() == [3, 1] and len(s.subset(np.array([True, False] * 2))) == 2
    with pytest.raises(TypeError):
        ImageSet(np.zeros((4, 2, 2), np.uint8), None)
    with pytest.raises(TypeError):
        ImageSet(np.zeros((4, 1, 2, 2), np.uint8), np.arange(3))


def test_data_dir_typo_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(AekitError, match="is not a directory"):
        load_dataset("mnist", data_dir=tmp_path / "typo", download=False)


@pytest.mark.parametrize("name", ["folder:", "npz:"])
def test_prefix_without_path(name: str) -> None:
    with pytest.raises(AekitError, match="needs a path"):
        load_dataset(name)


def test_how_to_get_names_the_official_url() -> None:
    rows = {r.name: r for r in list_datasets()}
    assert "http://codh.rois.ac.jp/kmnist/dataset/kmnist/" in rows["kmnist"].how_to_get
    assert "cifar-10-binary.tar.gz" in rows["cifar10"].how_to_get
