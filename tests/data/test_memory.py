"""A load that will not fit in memory is refused before it allocates, in one line that says how
much it needs, how much there is, and what to do; the check reads headers only."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest
from PIL import Image

from aekit.errors import AekitError
from aekit.modalities.images.data import builtin, load_dataset, local, write_idx
from aekit.modalities.images.data.memory import ENV, available_memory, format_bytes, parse_size


def refused(monkeypatch, limit: str, load, *never_called: tuple) -> str:
    """Run `load` under AEKIT_MEMORY_LIMIT=limit, with the readers in `never_called`
    ((module, name) pairs) replaced by tripwires; return the one-line message."""
    with monkeypatch.context() as patch:
        patch.setenv(ENV, limit)
        for module, name in never_called:

            def tripwire(*args, name=name, **kwargs):
                raise AssertionError(f"{name} ran before the memory check")

            patch.setattr(module, name, tripwire)
        with pytest.raises(AekitError, match="needs about") as info:
            load()
    message = str(info.value)
    assert "\n" not in message
    assert f"only {format_bytes(parse_size(limit))} is available ({ENV})" in message
    return message


@pytest.mark.parametrize(
    "text, value",
    [("1000", 1000), ("64K", 65536), ("1.5G", 3 * 2**29), ("512MiB", 2**29), ("2 gb", 2**31)],
)
def test_sizes_parse(text, value):
    assert parse_size(text) == value


def test_a_bad_override_is_an_error(monkeypatch):
    monkeypatch.setenv(ENV, "lots")
    with pytest.raises(AekitError, match="AEKIT_MEMORY_LIMIT='lots' is not a size"):
        available_memory()


def test_this_machine_reports_its_memory(monkeypatch):
    monkeypatch.delenv(ENV, raising=False)
    available, source = available_memory()
    assert available is not None and available > 0, source


def test_npz_over_the_limit_is_refused_before_its_arrays_are_read(tiny_npz, monkeypatch):
    # 384 images of 16x16: 98 KiB as uint8, twice that with the split's copies.
    message = refused(monkeypatch, "150K", lambda: load_dataset(str(tiny_npz)), (local, "_get"))
    assert f"loading {tiny_npz}" in message and "uint8 (320, 16, 16)" in message
    assert "save fewer images" in message and "set AEKIT_MEMORY_LIMIT" in message
    monkeypatch.setenv(ENV, "1M")
    assert len(load_dataset(str(tiny_npz)).train) > 0


def test_float_arrays_count_their_conversion_copies(tmp_path, monkeypatch):
    # 100 float64 images of 16x16: 200 KiB raw, converted through two temporaries as large.
    np.save(tmp_path / "x.npy", np.zeros((100, 16, 16)))
    refused(monkeypatch, "500K", lambda: load_dataset(str(tmp_path / "x.npy")), (local, "to_nchw"))
    monkeypatch.setenv(ENV, "800K")
    assert load_dataset(str(tmp_path / "x.npy")).image_shape == (1, 16, 16)


def test_a_folder_over_the_limit_is_refused_before_decoding(tmp_path, monkeypatch):
    for i in range(20):
        Image.fromarray(np.full((32, 32, 3), i * 10, np.uint8)).save(tmp_path / f"{i}.png")
    message = refused(
        monkeypatch, "100K", lambda: load_dataset(str(tmp_path)), (local, "read_image")
    )
    assert f"20 images of 3x32x32 from {tmp_path}" in message
    assert "--image-size" in message
    monkeypatch.setenv(ENV, "100K")  # smaller images fit
    assert load_dataset(str(tmp_path), image_size=8).image_shape == (3, 8, 8)


def test_idx_files_over_the_limit_are_refused_before_their_data_is_read(tmp_path, monkeypatch):
    directory = tmp_path / "m"
    for stem, n in (("train", 500), ("t10k", 100)):
        write_idx(directory / f"{stem}-images-idx3-ubyte.gz", np.zeros((n, 6, 5), np.uint8))
        write_idx(directory / f"{stem}-labels-idx1-ubyte.gz", np.zeros(n, np.uint8))
    message = refused(
        monkeypatch,
        "10K",
        lambda: load_dataset("mnist", data_dir=directory, download=False),
        (builtin, "read_idx"),
    )
    assert "500x6x5 + 100x6x5" in message


def test_cifar_over_the_limit_is_refused_before_reading(tmp_path, monkeypatch):
    for name in (*builtin.CIFAR_TRAIN, builtin.CIFAR_TEST):  # 5 records each, 3x32x32
        (tmp_path / "c").mkdir(exist_ok=True)
        (tmp_path / "c" / name).write_bytes(bytes(5 * builtin.CIFAR_RECORD))
    message = refused(
        monkeypatch,
        "200K",
        lambda: load_dataset("cifar10", data_dir=tmp_path / "c", download=False),
        (builtin, "_cifar_batch"),
    )
    assert "CIFAR-10" in message


def npy_header_only(shape: tuple[int, ...]) -> bytes:
    """A real .npy header announcing `shape` as uint8, without the data it announces."""
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buffer, {"descr": "|u1", "fortran_order": False, "shape": shape}
    )
    return buffer.getvalue()


def test_a_header_claiming_a_terabyte_is_refused_on_this_machine(tmp_path, monkeypatch):
    """No override: the real available memory. A 300-byte .npz that claims 10**12 pixels must
    be refused from its header, not by the allocator (or the OOM killer)."""
    monkeypatch.delenv(ENV, raising=False)
    path = tmp_path / "huge.npz"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("x.npy", npy_header_only((10**6, 1000, 1000)))
    with pytest.raises(AekitError, match=r"needs about \d+\.\d GiB of memory, but only"):
        load_dataset(str(path))
