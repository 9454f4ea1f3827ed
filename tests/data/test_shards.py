"""`aekit pack` and `shards:DIR`: the same pixels, splits and weights as the source in memory,
atomic packs, one-line errors for damaged packs, and splits that are read batch by batch."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from tests.conftest import shapes_images

from aekit.errors import AekitError
from aekit.modalities.images.data import load_dataset
from aekit.modalities.images.data.pack import pack
from aekit.modalities.images.data.rows import ShardRows

SPLITS = ("train", "val", "test")


def same_dataset(a, b) -> None:
    """Every split of `a` and `b` holds the same pixels and labels, in the same order."""
    assert a.classes == b.classes and a.image_shape == b.image_shape
    for split in SPLITS:
        x, y = getattr(a, split), getattr(b, split)
        assert np.array_equal(np.asarray(x.images), np.asarray(y.images)), split
        assert (x.labels is None) == (y.labels is None), split
        if x.labels is not None:
            assert np.array_equal(x.labels, y.labels), split


def png_folder(root: Path, n_train: int = 30, n_test: int = 9) -> Path:
    """root/train/<class>/*.png and root/test/<class>/*.png, RGB, of two sizes (so packing
    needs --size), one class folder per shape."""
    for split, n, seed in (("train", n_train, 1), ("test", n_test, 2)):
        images, labels = shapes_images(n, size=14, channels=3, seed=seed)
        for i, (image, label) in enumerate(zip(images, labels, strict=True)):
            folder = root / split / ("square", "disc")[label]
            folder.mkdir(parents=True, exist_ok=True)
            rgb = Image.fromarray(image.transpose(1, 2, 0))
            if i % 3 == 0:
                rgb = rgb.resize((17, 15))
            rgb.save(folder / f"{i:03d}.png")
    return root


# -- the rows ---------------------------------------------------------------------------------


def test_shard_rows_read_like_the_concatenated_array():
    whole = np.arange(11 * 2 * 3, dtype=np.uint8).reshape(11, 2, 3)
    rows = ShardRows([whole[:4], whole[4:5], whole[5:]])
    assert rows.shape == whole.shape and len(rows) == 11 and rows.dtype == np.uint8
    assert np.array_equal(np.asarray(rows), whole)
    for key in (3, -1, slice(2, 9), slice(None, None, 3), slice(8, 2, -2), slice(20, 30)):
        assert np.array_equal(rows[key], whole[key]), key
    picks = np.array([10, 0, 4, 4, -2])
    assert np.array_equal(rows[picks], whole[picks])
    assert np.array_equal(rows[:, 1, 2], whole[:, 1, 2])
    mask = whole[:, 0, 0] % 2 == 0
    view = rows.take(mask).take(np.array([2, 0]))  # a split of a split, still unread
    assert isinstance(view, ShardRows)
    assert np.array_equal(np.asarray(view), whole[mask][[2, 0]])
    assert np.array_equal(view[1:], whole[mask][[0]])
    taken = rows.take(np.arange(11)[::-1])
    for key in (slice(None, None, 3), slice(9, 1, -2), slice(4, 40)):
        assert np.array_equal(taken[key], whole[::-1][key]), key
    for bad in (11, -12, np.array([3, 11])):
        with pytest.raises(IndexError):
            rows[bad]


# -- pack round trips --------------------------------------------------------------------------


def test_folder_packs_to_the_pixels_the_folder_loads(tmp_path, run_cli):
    root = png_folder(tmp_path / "photos")
    out = tmp_path / "packed"
    code, stdout, err = run_cli(
        "pack", f"folder:{root}", "--out", out, "--size", "12", "--grayscale",
        "--shard-rows", "7", "--no-progress",
    )  # fmt: skip
    assert code == 0, err
    assert stdout.startswith("packed 39 images of 1x12x12") and "6 shards" in stdout
    index = json.loads((out / "index.json").read_text())
    assert [s["rows"] for s in index["shards"]] == [7, 7, 7, 7, 7, 4]
    assert index["split"]["pool"] == 30 and index["split"]["test"] == 9
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp left
    for options in ({}, {"seed": 5, "val_fraction": 0.3, "limit": 11}):
        memory = load_dataset(f"folder:{root}", image_size=12, channels=1, **options)
        packed = load_dataset(f"shards:{out}", **options)
        assert isinstance(packed.train.images, ShardRows)
        assert packed.name == f"shards:{out}" and packed.classes == ("disc", "square")
        same_dataset(memory, packed)


@pytest.mark.parametrize(
    ("name", "args", "load"),
    [
        ("digits", ["--shard-rows", "500"], {}),
        ("digits", ["--size", "6", "--rgb"], {"image_size": 6, "channels": 3}),
        ("npz", ["--grayscale"], {"channels": 1}),  # an official test split, a no-op --grayscale
    ],
)
def test_named_sets_pack_to_the_pixels_they_load(tmp_path, tiny_npz, run_cli, name, args, load):
    source = f"npz:{tiny_npz}" if name == "npz" else name
    out = tmp_path / "packed"
    code, _, err = run_cli("pack", source, "--out", out, "--no-progress", *args)
    assert code == 0, err
    same_dataset(load_dataset(source, **load), load_dataset(f"shards:{out}"))


def test_a_pack_is_read_as_packed(tmp_path):
    pack("digits", tmp_path / "d")
    assert load_dataset(f"shards:{tmp_path / 'd'}", image_size=8).image_shape == (1, 8, 8)
    with pytest.raises(AekitError, match=r"holds 1x8x8 images, not 1x16x16"):
        load_dataset(f"shards:{tmp_path / 'd'}", image_size=16)


# -- the same weights ----------------------------------------------------------------------------


def test_training_on_shards_gives_the_weights_of_training_in_memory(tmp_path, run_cli):
    """Bitwise: the same split, the same batches, the same bytes in each batch."""
    pack("digits", tmp_path / "d", shard_rows=300)  # batches cross shard boundaries
    before = torch.get_num_threads()
    weights = []
    try:
        for data in ("digits", f"shards:{tmp_path / 'd'}"):
            run = tmp_path / f"run{len(weights)}"
            code, _, err = run_cli(
                "train", "conv-ae", "--data", data, "--out", run, "--latent-dim", "4",
                "--epochs", "1", "--batch-size", "64", "--threads", "1", "--no-progress",
            )  # fmt: skip
            assert code == 0, err
            from safetensors.torch import load_file

            weights.append(load_file(run / "model.safetensors"))
    finally:
        torch.set_num_threads(before)
    memory, packed = weights
    assert memory.keys() == packed.keys()
    assert all(torch.equal(memory[k], packed[k]) for k in memory)
    # and training moved them: equal weights are not just two untrained models
    assert not torch.equal(memory["decoder.0.weight"], torch.zeros_like(memory["decoder.0.weight"]))


# -- never read whole ------------------------------------------------------------------------------


def test_training_reads_a_shards_split_batch_by_batch(tmp_path, monkeypatch):
    from dataclasses import replace

    from aekit.runs import default_run_config, train_run

    pack("digits", tmp_path / "d", shard_rows=256)
    reads: list[tuple[int, int]] = []  # (rows in the split read from, rows read at once)
    read, read_range = ShardRows._read, ShardRows._read_range

    def counted(self, positions):
        reads.append((len(self), len(positions)))
        return read(self, positions)

    def counted_range(self, start, stop):
        reads.append((len(self), stop - start))
        return read_range(self, start, stop)

    def whole(self, *args, **kwargs):
        raise AssertionError(f"a whole split of {len(self)} rows was read")

    monkeypatch.setattr(ShardRows, "_read", counted)
    monkeypatch.setattr(ShardRows, "_read_range", counted_range)
    monkeypatch.setattr(ShardRows, "__array__", whole)
    config = default_run_config("ae")
    config = replace(
        config, data=replace(config.data, name=f"shards:{tmp_path / 'd'}"),
        train=replace(config.train, epochs=1, batch_size=32),
    )  # fmt: skip
    config = replace(config, model={**config.model, "hidden": [32], "latent_dim": 2})
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # two threads on two busy cores crawl
    try:
        result = train_run(config, tmp_path / "run", progress=False, device="cpu")
    finally:
        torch.set_num_threads(before)
    assert result.history and not result.interrupted
    n_train = 1294  # digits' training split at the default fractions
    train_reads = [k for n, k in reads if n == n_train]
    assert len(train_reads) == n_train // 32 and set(train_reads) == {32}


# -- atomic, and refusing to overwrite -------------------------------------------------------------


def test_a_failure_mid_pack_leaves_nothing(tmp_path):
    root = png_folder(tmp_path / "photos")
    (root / "train" / "square" / "zzz.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")  # read last
    out = tmp_path / "packed"
    with pytest.raises(AekitError):
        pack(f"folder:{root}", out, size=12, shard_rows=4)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["photos"]


def test_a_failed_force_keeps_the_old_pack_and_ctrl_c_leaves_nothing(tmp_path, monkeypatch):
    out = tmp_path / "packed"
    pack("digits", out, shard_rows=1000)
    before = (out / "index.json").read_bytes()
    from aekit.modalities.images.data import pack as packing

    real = packing._write

    def interrupted(f, digest, data):
        if f.name.endswith("shard-00001.npy"):
            raise KeyboardInterrupt
        real(f, digest, data)

    monkeypatch.setattr(packing, "_write", interrupted)
    with pytest.raises(KeyboardInterrupt):
        pack("digits", out, shard_rows=500, force=True)
    assert (out / "index.json").read_bytes() == before
    assert load_dataset(f"shards:{out}").train.images.shape[0] == 1294
    with pytest.raises(KeyboardInterrupt):
        pack("digits", tmp_path / "other", shard_rows=500)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["packed"]


def test_pack_refuses_a_non_empty_out_unless_forced(tmp_path, run_cli):
    out = tmp_path / "packed"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    code, _, err = run_cli("pack", "digits", "--out", out, "--no-progress")
    assert code == 2 and err.count("\n") == 1
    assert err.startswith("aekit: error: --out") and "--force" in err
    code, _, err = run_cli("pack", "digits", "--out", out, "--force", "--no-progress")
    assert code == 0, err
    assert sorted(p.name for p in out.iterdir()) == ["index.json", "labels.npy", "shard-00000.npy"]


def test_force_never_deletes_the_source(tmp_path, tiny_npz):
    with pytest.raises(AekitError, match="holds the source being packed"):
        pack(f"npz:{tiny_npz}", tiny_npz.parent, force=True)
    assert tiny_npz.is_file()


# -- damaged packs: one line each ------------------------------------------------------------------


def _edit_index(d: Path, change) -> None:
    index = json.loads((d / "index.json").read_text())
    change(index)
    (d / "index.json").write_text(json.dumps(index))


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 10])


def _reshape(path: Path) -> None:
    rows = np.load(path)
    np.save(path, rows.reshape(len(rows), 1, 4, 16))  # the same bytes, another shape


DAMAGE = {
    "no index": (lambda d: (d / "index.json").unlink(), "has no index.json"),
    "not json": (lambda d: (d / "index.json").write_text("{"), "cannot read"),
    "other version": (lambda d: _edit_index(d, lambda i: i.update(version=99)), "index version 99"),
    "bad shape": (lambda d: _edit_index(d, lambda i: i.update(shape=[2, 8, 8])), "C 1 or 3"),
    "missing shard": (lambda d: (d / "shard-00001.npy").unlink(), "shard-00001.npy is missing"),
    "truncated shard": (lambda d: _truncate(d / "shard-00000.npy"), "is truncated"),
    "reshaped shard": (lambda d: _reshape(d / "shard-00001.npy"), "but the index says"),
    "rows disagree": (
        lambda d: _edit_index(d, lambda i: i["split"].update(pool=5)),
        "does not belong",
    ),
    "labels lost": (lambda d: (d / "labels.npy").unlink(), "labels.npy is missing"),
    "not a .npy": (lambda d: (d / "shard-00000.npy").write_text("hello"), "cannot read"),
    "grown shard": (
        lambda d: (d / "labels.npy").write_bytes((d / "labels.npy").read_bytes() + b"0"),
        "labels.npy is the wrong size",
    ),
}


@pytest.mark.parametrize("damage", DAMAGE)
def test_a_damaged_pack_is_one_error(tmp_path, damage):
    d = tmp_path / "packed"
    pack("digits", d, shard_rows=1000)
    change, fragment = DAMAGE[damage]
    change(d)
    with pytest.raises(AekitError, match=fragment) as caught:
        load_dataset(f"shards:{d}")
    assert "\n" not in str(caught.value)


def test_training_on_a_damaged_pack_is_one_line_and_exit_2(tmp_path, run_cli):
    d = tmp_path / "packed"
    pack("digits", d)
    _truncate(d / "shard-00000.npy")
    code, _, err = run_cli(
        "train", "ae", "--data", f"shards:{d}", "--out", tmp_path / "r", "--no-progress"
    )
    assert code == 2 and err.count("\n") == 1 and err.startswith("aekit: error: shards:")
    code, _, err = run_cli(
        "train", "ae", "--data", f"shards:{tmp_path}/nowhere", "--out", tmp_path / "s"
    )
    assert code == 2 and "is not a directory" in err


def test_shards_are_named_in_help_but_not_listed(run_cli):
    code, stdout, _ = run_cli("datasets")
    assert code == 0 and "shards:" not in stdout
    code, stdout, _ = run_cli("train", "--help")
    assert code == 0 and "shards:DIR" in re.sub(r"[\s│]+", "", stdout)  # however it wraps
