"""What a run survives: corrupt checkpoints, a full disk, a diverging learning rate, weights
that overflow. Each ends with good files on disk and one line saying what happened."""

from __future__ import annotations

import errno
import logging
import os
import shutil
import struct
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from safetensors import SafetensorError

from aekit.atomic import DiskFullError
from aekit.errors import AekitError
from aekit.training import checkpoint as ckpt
from aekit.training import trainer as trainer_module
from aekit.training.config import TrainConfig
from tests.training.test_trainer import InterruptAt, assert_same_weights, data, make, weights

__all__ = ["data"]  # the fixture, shared with test_trainer.py

CONFIG = TrainConfig(epochs=2, batch_size=32)  # 10 steps an epoch on `data`
TIMING = ("seconds", "images_per_s")


@pytest.fixture(scope="module")
def straight(data, tmp_path_factory):
    """CONFIG run without a stop: (weights, history without timing)."""
    trainer = make(CONFIG, tmp_path_factory.mktemp("straight"))
    result = trainer.fit(*data)
    return weights(trainer.model), untimed(result.history)


def untimed(history: list[dict]) -> list[dict]:
    return [{k: v for k, v in row.items() if k not in TIMING} for row in history]


def flip(path: Path, where: str) -> None:
    """Damage a safetensors file the way a bad disk or copy would."""
    raw = bytearray(path.read_bytes())
    (header_len,) = struct.unpack("<Q", raw[:8])
    if where == "data":  # one bit in the middle of the tensor bytes
        raw[8 + header_len + (len(raw) - 8 - header_len) // 2] ^= 0x01
    elif where == "hash key":  # still valid JSON, but the hash's own key is gone
        at = raw.index(ckpt.HASH_KEY.encode())
        raw[at + len(ckpt.HASH_KEY) - 1] ^= 0x01
    elif where == "header":  # the header's opening brace
        raw[8] ^= 0x01
    elif where == "truncated":
        del raw[len(raw) // 2 :]
    path.write_bytes(bytes(raw))


def stopped_in_epoch_2(data, run: Path):
    """A run stopped (Ctrl-C) at epoch 2 step 2: checkpoint.safetensors is that moment,
    checkpoint.prev.safetensors the end of epoch 1."""
    train, val = data
    # The task runs once per step and once per validation: call 13 is epoch 2's second step.
    assert make(CONFIG, run, task=InterruptAt(13)).fit(train, val).interrupted


@pytest.mark.parametrize("where", ["data", "hash key", "header", "truncated"])
def test_a_corrupt_checkpoint_falls_back_to_the_previous_one_and_says_so(
    data, straight, tmp_path, caplog, where
):
    train, val = data
    run = tmp_path / "run"
    stopped_in_epoch_2(data, run)
    flip(run / ckpt.CHECKPOINT, where)

    resumed = make(CONFIG, run, seed=123)
    with caplog.at_level(logging.WARNING):
        result = resumed.fit(train, val, resume=True)
    (message,) = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert str(run / ckpt.CHECKPOINT) in message
    assert f"resuming from {ckpt.PREVIOUS}, saved after epoch 1" in message
    assert f"set aside as {ckpt.CORRUPT}" in message
    assert (run / ckpt.CORRUPT).is_file()
    # Losing the newest checkpoint costs its work, never the result.
    assert_same_weights(straight[0], weights(resumed.model))
    assert untimed(result.history) == straight[1]


def test_a_rank_other_than_the_writer_reads_the_same_checkpoint_and_changes_nothing(data, tmp_path):
    # With several processes every rank loads the checkpoint while rank 0 rewrites
    # metrics.jsonl through a temporary file: a rank removing "stale" temporaries removed that.
    run = tmp_path / "run"
    stopped_in_epoch_2(data, run)
    flip(run / ckpt.CHECKPOINT, "data")
    writing = run / ".metrics.jsonl.0123.part"  # the writer's file, mid-write
    writing.write_text("{")
    before = {p.name: p.read_bytes() for p in run.iterdir()}
    reader = ckpt.load_checkpoint(run, tidy=False)
    assert {p.name: p.read_bytes() for p in run.iterdir()} == before
    writer = ckpt.load_checkpoint(run)  # the writer tidies: the same checkpoint
    assert reader.path == writer.path == run / ckpt.PREVIOUS
    assert reader.meta == writer.meta and reader.tensors.keys() == writer.tensors.keys()
    assert not writing.exists() and (run / ckpt.CORRUPT).is_file()


def test_both_checkpoints_corrupt_is_one_line_naming_both(data, tmp_path):
    run = tmp_path / "run"
    stopped_in_epoch_2(data, run)
    flip(run / ckpt.CHECKPOINT, "data")
    flip(run / ckpt.PREVIOUS, "header")
    with pytest.raises(AekitError, match="no usable checkpoint") as info:
        make(CONFIG, run).fit(*data, resume=True)
    message = str(info.value)
    assert "\n" not in message
    assert ckpt.CHECKPOINT in message and ckpt.PREVIOUS in message and "--out" in message


def test_corrupt_weights_are_caught_by_their_hash_in_load_run(data, tmp_path):
    make(TrainConfig(epochs=1, batch_size=32), tmp_path).fit(*data)
    flip(tmp_path / ckpt.WEIGHTS, "data")
    with pytest.raises(AekitError, match="is corrupt: its content does not match the SHA-256"):
        ckpt.load_run(tmp_path)


def test_a_run_killed_before_its_first_checkpoint_resumes_from_the_start(
    data, straight, tmp_path, caplog
):
    train, val = data
    run = tmp_path / "run"
    make(CONFIG, run).fit(train, val)
    for name in (ckpt.CHECKPOINT, ckpt.PREVIOUS, ckpt.WEIGHTS, ckpt.METRICS):
        (run / name).unlink()  # as a kill during epoch 1 would leave it: config.json alone
    again = make(CONFIG, run)  # the same seeded initial weights, as `aekit train` makes them
    with caplog.at_level(logging.WARNING):
        again.fit(train, val, resume=True)
    assert "has no checkpoint yet; training it from the start" in caplog.text
    assert_same_weights(straight[0], weights(again.model))


def test_checkpoint_every_n_steps_resumes_bitwise_and_keeps_the_previous(data, straight, tmp_path):
    train, val = data
    config = replace(CONFIG, checkpoint_every=4)  # saving changes no number: same reference
    run = tmp_path / "run"
    assert make(config, run, task=InterruptAt(7)).fit(train, val).interrupted  # epoch 1 step 7
    previous = ckpt.load_tensors(run / ckpt.PREVIOUS, require_hash=True)[1]
    assert previous["position"]["step"] == 4  # the step-4 checkpoint, before Ctrl-C's
    resumed = make(config, run, seed=5)
    resumed.fit(train, val, resume=True)
    assert_same_weights(straight[0], weights(resumed.model))


# -- a full disk ---------------------------------------------------------------------------------


# How a full disk surfaces: Python's own writes raise OSError, safetensors' Rust writer its own
# error type with the errno only in the text.
FULL_DISK = [
    OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)),
    SafetensorError("Error while serializing: I/O error: No space left on device (os error 28)"),
]


@pytest.mark.parametrize("error", FULL_DISK, ids=["OSError", "SafetensorError"])
def test_a_full_disk_during_a_checkpoint_write_keeps_the_previous_checkpoint(
    data, tmp_path, monkeypatch, error
):
    train, val = data
    run = tmp_path / "run"
    make(TrainConfig(epochs=1, batch_size=32), run).fit(train, val)
    before = {p.name: p.read_bytes() for p in run.iterdir()}

    def disk_fills_up(tensors, path, metadata=None):
        Path(path).write_bytes(b"\0" * 4096)  # part of the file made it to disk
        raise error

    monkeypatch.setattr(ckpt, "save_file", disk_fills_up)
    config = TrainConfig(epochs=2, batch_size=32, checkpoint_every=3)  # a mid-epoch save first
    with pytest.raises(DiskFullError) as info:
        make(config, run).fit(train, val, resume=True)
    message = str(info.value)
    assert "\n" not in message
    assert f"the disk holding {run} is full" in message
    assert "while writing checkpoint.safetensors; the previous one is intact" in message
    assert f"aekit train --resume --out {run}" in message
    assert {p.name: p.read_bytes() for p in run.iterdir()} == before  # no temp file either
    ckpt.load_tensors(run / ckpt.CHECKPOINT, require_hash=True)


@pytest.fixture
def small_tmpfs(tmp_path):
    """A 4 MiB tmpfs to fill up for real; skipped where mounting is not allowed."""
    mount = tmp_path / "tmpfs"
    mount.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs root and mount(8)")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)],
        capture_output=True, text=True,
    )  # fmt: skip
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(mount: Path) -> Path:
    filler = mount / "filler"
    with open(filler, "wb") as f:
        try:
            while True:
                f.write(b"\0" * 65536)
                f.flush()
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
    return filler


def test_a_really_full_tmpfs_keeps_the_previous_checkpoint_then_resumes(
    data, straight, small_tmpfs
):
    train, val = data
    config = replace(CONFIG, checkpoint_every=3)
    run = small_tmpfs / "run"
    filled: list[Path] = []
    trainer = make(config, run)
    trainer.callbacks.append(lambda row, model: filled.append(fill(small_tmpfs)))
    with pytest.raises(DiskFullError, match=f"the disk holding {run} is full"):
        trainer.fit(train, val)  # epoch 1 ends, the disk fills, epoch 2's first save fails
    assert not list(run.glob(".*.part"))
    _, meta = ckpt.load_tensors(run / ckpt.CHECKPOINT, require_hash=True)
    assert meta["position"]["epoch"] == 1

    filled[0].unlink()  # space again: resume finishes the run as if nothing had happened
    resumed = make(config, run, seed=9)
    resumed.fit(train, val, resume=True)
    assert_same_weights(straight[0], weights(resumed.model))


# -- numbers that stop being numbers --------------------------------------------------------------


# Both blow up within a few steps; AdamW's steps are bounded by lr, so its loss explodes without
# ever reaching inf, which only the ratio to the first step's loss catches.
@pytest.mark.parametrize("optimizer", ["sgd", "adamw"])
def test_a_diverging_learning_rate_stops_naming_the_step(data, tmp_path, optimizer):
    config = TrainConfig(epochs=2, batch_size=32, lr=1e4, optimizer=optimizer)
    match = r"loss is \S+, over 1000x the first step's \S+ at epoch 1 step \d+ \(lr \S+\)"
    with pytest.raises(AekitError, match=match) as info:
        make(config, tmp_path / "run").fit(*data)
    assert "lower train.lr" in str(info.value) and "\n" not in str(info.value)


def test_weights_that_overflow_are_never_checkpointed(data, tmp_path, monkeypatch):
    calls = {"n": 0}
    real_step = trainer_module.training_step

    def overflowing_step(model, *args):
        losses = real_step(model, *args)  # a finite loss ...
        calls["n"] += 1
        if calls["n"] == 4:
            with torch.no_grad():  # ... and an update that overflowed one weight
                next(model.parameters()).view(-1)[0] = float("inf")
        return losses

    monkeypatch.setattr(trainer_module, "training_step", overflowing_step)
    run = tmp_path / "run"
    config = TrainConfig(epochs=1, batch_size=32, checkpoint_every=2)
    with pytest.raises(AekitError, match=r"weight \S+ holds NaN or infinity at epoch 1 step 4"):
        make(config, run).fit(*data)
    tensors, meta = ckpt.load_tensors(run / ckpt.CHECKPOINT, require_hash=True)
    assert meta["position"]["step"] == 2
    assert all(torch.isfinite(t).all() for k, t in tensors.items() if k.startswith("model."))
