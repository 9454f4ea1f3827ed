"""Data-parallel runs that change shape: a rank killed under torchrun --max-restarts, a resume
on another world size, two torchrun "nodes" on 127.0.0.1, and data that the global batch does
not divide (docs/distributed.md).

Three launches for the module, each bounded in time (a hang kills every process the launch
started and fails the test): worker.py trains the 2-rank reference and the world-size and
uneven-data jobs in one process group; crash.py runs `aekit train` under --max-restarts 1
with rank 1 killed on the first attempt; two torchrun processes run `aekit train` as the two
nodes. The reference is the lesson conv-ae denoising (test_ddp.CONV): no BatchNorm and no
random draws of its own, so it trains the same weights on any world size up to rounding.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from tests.conftest import shapes_images, shapes_npz
from tests.distributed.test_ddp import (
    ABORT,
    CONV,
    CONV_CLI,
    HERE,
    SRC,
    assert_same_run,
    metrics,
)

LAUNCH_TIMEOUT_S = 300  # a bound, not a measurement: a hung collective fails, never blocks
STOP_AT = 4  # the step in epoch 1 where the runs resumed on another world size stopped
# 288 training rows (320 less the validation tenth) at batch 32: 9 steps an epoch. A checkpoint
# every 4 steps puts the last one before the kill at step 12 (epoch 2 step 3), mid-epoch.
CHECKPOINT_EVERY, KILL_AT = 4, 15
TORCHRUN_ENV = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")
UNEVEN_ROWS = 333  # 300 training rows (33 validation): 9 global batches of 32, 12 rows left


def launch(commands: list[list[str]], cwd: Path, **extra_env: str) -> list[tuple[int, str, str]]:
    """Run `commands` side by side, each in a session of its own with its output in files (no
    pipe can fill and stall one while another waits for it); (exit code, stdout, stderr) each.
    Past LAUNCH_TIMEOUT_S every process of every session (torchrun and its workers) is killed
    and the test fails."""
    env = {k: v for k, v in os.environ.items() if k not in TORCHRUN_ENV}
    env["PYTHONPATH"] = os.pathsep.join([str(SRC), str(HERE.parent.parent)])
    env.update(extra_env)
    logs = [(cwd / f"launch{i}.out", cwd / f"launch{i}.err") for i in range(len(commands))]
    procs = []
    for command, (out, err) in zip(commands, logs, strict=True):
        with out.open("w") as stdout, err.open("w") as stderr:
            procs.append(subprocess.Popen(command, cwd=cwd, env=env, stdout=stdout,
                                          stderr=stderr, start_new_session=True))  # fmt: skip
    deadline = time.monotonic() + LAUNCH_TIMEOUT_S
    try:
        for proc in procs:
            proc.wait(timeout=max(deadline - time.monotonic(), 0.1))
    except subprocess.TimeoutExpired:
        for proc in procs:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        tails = [err.read_text()[-2000:] for _, err in logs]
        pytest.fail(f"a launch ran past {LAUNCH_TIMEOUT_S} s and was killed: {tails}")
    return [(p.returncode, out.read_text(), err.read_text())
            for p, (out, err) in zip(procs, logs, strict=True)]  # fmt: skip


def torchrun(*args: str) -> list[str]:
    return [sys.executable, "-m", "torch.distributed.run", *args]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class StopAt:
    """The stop flag the training loop reads once a step on one process, raised as if Ctrl-C
    came in step `at`."""

    def __init__(self, at: int) -> None:
        self.at, self.reads = at, 0

    @property
    def requested(self) -> bool:
        self.reads += 1
        return self.reads >= self.at


@contextlib.contextmanager
def one_thread():
    """One torch thread, as each rank has, for a run in this process."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def index_coded_images(n: int, seed: int) -> np.ndarray:
    """n shape images whose first two pixels hold the row's index (256 * high + low), so the
    rows a model is given can be read back from its inputs (worker.py row_ids)."""
    images = shapes_images(n, seed=seed)[0][:, 0]
    images[:, 0, 0], images[:, 0, 1] = np.arange(n) // 256, np.arange(n) % 256
    return images


@pytest.fixture(scope="module")
def elastic(tmp_path_factory) -> dict:
    from aekit.cli.train import build_run_config
    from aekit.runs import train_run
    from aekit.training import trainer as trainer_module
    from aekit.training.checkpoint import load_checkpoint

    def attempt(root: Path):
        data = shapes_npz(root / "shapes.npz")
        uneven = root / "uneven.npz"
        x_test = np.load(data, allow_pickle=False)["x_test"]
        np.savez(uneven, x_train=index_coded_images(UNEVEN_ROWS, seed=3), x_test=x_test)
        conv = {"data.name": str(data), **CONV}
        # One process, stopped after STOP_AT steps: the run the 2-rank job below resumes.
        grown = root / "grown"
        with one_thread(), pytest.MonkeyPatch.context() as patch:
            flag = StopAt(STOP_AT)
            stop = lambda: contextlib.nullcontext(flag)  # noqa: E731
            patch.setattr(trainer_module, "stop_on_first_ctrl_c", stop)
            config = build_run_config("conv-ae", None, conv, [])
            assert train_run(config, grown, progress=False, device="cpu").interrupted
        saved = load_checkpoint(grown)
        assert saved.meta["position"]["step"] == STOP_AT and "rng.rank1.torch" not in saved.tensors

        jobs = [
            {"model": "conv-ae", "out": str(root / "two"), "flags": conv, "set": []},
            # Rank 1 presses Ctrl-C in step STOP_AT and the run is left there, for one process.
            {"model": "conv-ae", "out": str(root / "shrunk"), "flags": conv, "set": [],
             "interrupt_at": STOP_AT, "then_resume": False},
            {"model": "conv-ae", "out": str(grown), "flags": conv, "set": [], "resume_only": True},
            {"model": "conv-ae", "out": str(root / "uneven"), "set": [], "record_rows": True,
             "flags": {**conv, "data.name": str(uneven), "task.name": "identity"}},
        ]  # fmt: skip
        spec = {"root": str(root), "report": str(root / "report.json"), "jobs": jobs}
        (root / "spec.json").write_text(json.dumps(spec))
        [(code, _, err)] = launch(
            [torchrun("--standalone", "--nproc-per-node", "2", str(HERE / "worker.py"),
                      str(root / "spec.json"))], root)  # fmt: skip
        return data, code, err

    root = tmp_path_factory.mktemp("elastic")
    data, code, err = attempt(root)
    if code != 0 and ABORT in err:
        # A rank aborted inside torch (C++ terminate, SIGABRT): seen under full-suite load,
        # never alone. Once more from scratch, and said.
        warnings.warn(f"torchrun worker: a rank aborted ({ABORT!r}); relaunched once", stacklevel=1)
        root = tmp_path_factory.mktemp("elastic")
        data, code, err = attempt(root)
    assert code == 0, err[-3000:]
    report = json.loads((root / "report.json").read_text())["jobs"]
    return {"root": root, "data": data, "report": dict(zip(("two", "shrunk", "grown", "uneven"),
                                                           report, strict=True))}  # fmt: skip


def assert_close_run(run: Path, reference: Path) -> None:
    """The weights all-close (1e-5, fp32) to the reference's, and the logged losses too."""
    one, other = load_file(run / "model.safetensors"), load_file(reference / "model.safetensors")
    assert one.keys() == other.keys()
    for key in one:
        torch.testing.assert_close(one[key], other[key], rtol=0, atol=1e-5, msg=key)
    rows = [metrics(run), metrics(reference)]
    assert [len(r) for r in rows] == [2, 2]
    for a, b in zip(*rows, strict=True):
        assert a["train_loss"] == pytest.approx(b["train_loss"], rel=1e-5)
        assert a["val_loss"] == pytest.approx(b["val_loss"], rel=1e-5)


def test_a_two_rank_checkpoint_resumes_on_one_process_quietly(elastic, run_cli):
    shrunk, two = elastic["root"] / "shrunk", elastic["root"] / "two"
    assert elastic["report"]["shrunk"]["interrupted_ranks"] == 2
    saved = load_file(shrunk / "checkpoint.safetensors")
    assert "rng.rank1.torch" in saved  # written by two processes
    with one_thread():
        code, out, err = run_cli("train", "--resume", "--out", shrunk, "--device", "cpu",
                                 "--no-progress", "--threads", "1")  # fmt: skip
    assert code == 0, err
    assert "trained 2 epochs" in out
    # Nothing alarming: the only line on stderr is the thread count asked for.
    assert [line for line in err.splitlines() if line.strip()] == [
        "training with 1 torch thread (as asked)"
    ]
    assert_close_run(shrunk, two)
    assert "rng.rank1.torch" not in load_file(shrunk / "checkpoint.safetensors")


def test_a_one_process_checkpoint_resumes_on_two_ranks(elastic):
    grown = elastic["report"]["grown"]
    assert grown["rank_diff"] == 0.0  # rank 1, new to the run, holds rank 0's weights
    assert_close_run(Path(grown["out"]), elastic["root"] / "two")
    assert "rng.rank1.torch" in load_file(Path(grown["out"]) / "checkpoint.safetensors")


def test_uneven_data_every_rank_takes_the_same_steps_and_no_row_twice(elastic):
    ranks = elastic["report"]["uneven"]["rows"]  # per rank: rows of every step, training rows
    train = ranks[0]["train"]
    n, batch = len(train), CONV["train.batch_size"]
    assert n % batch and len(set(train)) == n  # the data is uneven; each row is one row
    assert ranks[1]["train"] == train
    dropped = []
    for epoch in range(CONV["train.epochs"]):
        steps = [rank["epochs"][epoch] for rank in ranks]
        assert [len(s) for s in steps] == [n // batch] * 2  # every rank: the same step count
        assert {len(rows) for s in steps for rows in s} == {batch // 2}
        seen = [row for s in steps for rows in s for row in rows]
        assert len(set(seen)) == len(seen) == (n // batch) * batch  # no row twice
        assert set(seen) <= set(train)
        dropped.append(set(train) - set(seen))
    assert dropped[0] != dropped[1]  # the dropped rows are another set each epoch
    rows = metrics(Path(elastic["report"]["uneven"]["out"]))
    assert all(np.isfinite([row["train_loss"], row["val_loss"]]).all() for row in rows)


@pytest.fixture(scope="module")
def restarted(elastic) -> tuple[Path, list]:
    out = elastic["root"] / "restarted"
    command = torchrun(
        "--standalone", "--nproc-per-node", "2", "--max-restarts", "1",
        str(HERE / "crash.py"), "1", str(KILL_AT),
        "train", "conv-ae", "--data", str(elastic["data"]), "--out", str(out), "--resume",
        "--device", "cpu", "--no-progress", *CONV_CLI,
        "--set", f"train.checkpoint_every={CHECKPOINT_EVERY}",
    )  # fmt: skip
    # The known issue (docs/distributed.md): without this, restarted gloo workers on one node
    # can fail to reconnect to the rendezvous store they share with the agent.
    return out, launch([command], elastic["root"], TORCH_DISABLE_SHARE_RDZV_TCP_STORE="1")


def test_a_rank_killed_under_max_restarts_is_restarted_and_ends_bitwise_unkilled(
    elastic, restarted
):
    out, [(code, stdout, stderr)] = restarted
    assert code == 0, stderr[-3000:]
    assert f"rank 1: killed at step {KILL_AT}" in stderr  # the first attempt died there
    for rank in (0, 1):  # the second resumed from the mid-epoch checkpoint, not from scratch
        assert f"rank {rank}: resumed at epoch 2 step 4" in stderr, stderr[-3000:]
    assert stdout.count("trained 2 epochs") == 1
    assert_same_run(elastic["root"] / "two", out)


@pytest.fixture(scope="module")
def two_nodes(elastic) -> tuple[Path, list]:
    out = elastic["root"] / "nodes"
    node = torchrun("--nnodes", "2", "--nproc-per-node", "1", "--master-addr", "127.0.0.1",
                    "--master-port", str(free_port()))  # fmt: skip
    train = ["-m", "aekit", "train", "conv-ae", "--data", str(elastic["data"]), "--out", str(out),
             "--device", "cpu", "--no-progress", *CONV_CLI]  # fmt: skip
    commands = [[*node, "--node-rank", str(rank), *train] for rank in (0, 1)]
    return out, launch(commands, elastic["root"])


def test_two_nodes_train_bitwise_the_one_node_run(elastic, two_nodes):
    # Bitwise, not only all-close: the same two ranks take the same slices, and an all-reduce
    # over two ranks adds two floats per element, which gives one result in either order.
    out, results = two_nodes
    for code, _, stderr in results:
        assert code == 0, stderr[-3000:]
    assert [r[1].count("trained 2 epochs") for r in results] == [1, 0]  # node 0 has rank 0
    assert_same_run(elastic["root"] / "two", out)
