"""Ctrl-C on a real `aekit train` process: a checkpoint, a clean exit, then --resume finishes."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

from aekit.training import checkpoint as ckpt


def test_ctrl_c_saves_and_resume_finishes(tmp_path, tiny_npz):
    out = tmp_path / "run"
    # One torch thread: two on a shared 2-core machine under load ran this 18x slower (the
    # 29-epoch resume then missed its timeout); the thread count is no setting of the run.
    command = [sys.executable, "-m", "aekit", "train", "conv-ae", "--data", str(tiny_npz),
               "--out", str(out), "--epochs", "30", "--batch-size", "8", "--latent-dim", "4",
               "--set", "model.channels=[8, 16]", "--no-progress", "--threads", "1"]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not (out / ckpt.CHECKPOINT).exists():  # the first epoch is done
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    assert "interrupted: checkpoint saved" in stdout and "--resume" in stdout
    assert "Traceback" not in stderr
    _, meta = ckpt.load_tensors(out / ckpt.CHECKPOINT)
    assert meta["position"]["epoch"] < 30

    done = subprocess.run([*command[:4], "--resume", "--out", str(out), "--no-progress",
                           "--threads", "1"],
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in (out / ckpt.METRICS).read_text().splitlines()]
    assert [r["epoch"] for r in rows] == list(range(1, 31))
