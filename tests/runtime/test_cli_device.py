"""`aekit train --device`: auto says where it trains, a missing device is one error line, and
the device is not part of the run: a resume may name another."""

from __future__ import annotations

import json

import torch

from aekit.training import checkpoint as ckpt

TINY = ["--latent-dim", "4", "--set", "model.channels=[8, 16]", "--epochs", "1",
        "--batch-size", "64"]  # fmt: skip


def test_auto_says_where_it_trains_and_the_run_does_not_record_it(
    tmp_path, tiny_npz, run_cli, monkeypatch
):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    out = tmp_path / "run"
    code, stdout, stderr = run_cli("train", "conv-ae", "--data", tiny_npz, "--out", out, *TINY)
    assert code == 0, stderr
    assert "training on cpu (auto: no CUDA or MPS device)" in stderr
    assert "device" not in json.dumps(json.loads((out / ckpt.CONFIG).read_text()))
    code, _, stderr = run_cli("train", "--resume", "--out", out, "--device", "cpu")
    assert code == 0, stderr
    assert "training on cpu\n" in stderr


def test_a_device_the_machine_lacks_is_one_line_before_any_work(
    tmp_path, tiny_npz, run_cli, monkeypatch
):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    out = tmp_path / "run"
    code, _, stderr = run_cli(
        "train", "conv-ae", "--data", tiny_npz, "--out", out, "--device", "cuda", *TINY
    )
    assert code == 2
    assert stderr == (
        "aekit: error: --device cuda: this machine has no CUDA device; available: cpu\n"
    )
    assert not out.exists()
