"""Data-parallel training with torchrun on CPU (gloo, one thread per rank).

Two torchrun launches for the whole module (each costs a few seconds of imports): worker.py
trains several runs in one process group, and `torchrun -m aekit train` trains the first of
them again through the CLI. A one-process run of the same config is the reference.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from aekit.modalities.images.data.pack import pack
from tests.conftest import shapes_npz

HERE = Path(__file__).parent
SRC = HERE.parent.parent / "src"
ABORT = "terminate called without an active exception"
LAUNCH_TIMEOUT_S = 300  # a bound, not a measurement: a hung collective fails, never blocks

# Lesson conv-ae: no BatchNorm (whose batch statistics are per rank, docs/distributed.md), and
# denoising, so each rank's noise must be its slice of the global batch's draw.
CONV = {
    "train.epochs": 2, "train.batch_size": 32, "train.precision": "fp32",
    "model.arch": "lesson", "task.name": "denoise", "task.noise": "gaussian:0.2",
}  # fmt: skip
CONV_CLI = ["--epochs", "2", "--batch-size", "32", "--precision", "fp32", "--arch", "lesson",
            "--task", "denoise", "--noise", "gaussian:0.2"]  # fmt: skip
# The AAE: three optimizers per step, BatchNorm (its default), prior draws per global row.
AAE_SET = ["model.channels=[8, 16]", "model.latent_dim=4", "model.disc_hidden=[16]"]
AAE = {"train.epochs": 2, "train.batch_size": 32, "train.precision": "fp32"}
# The default arch with GroupNorm (model.norm=group), which has no batch statistics: conv-vae
# (reparameterisation noise per global row, core/random.py randn_rows) and the AAE.
GROUP = "model.norm=group"
VAE_SET = ["model.channels=[8, 16]", "model.latent_dim=4"]
VAE = AAE
# conv-vae with BatchNorm, its default: per-rank statistics on CPUs (docs/distributed.md).
VAE_BN_SET = [*VAE_SET, "model.norm=batch"]


def torchrun(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    env["PYTHONPATH"] = os.pathsep.join([str(SRC), str(HERE.parent.parent)])
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone",
               "--nproc-per-node", "2", *args]  # fmt: skip
    return subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=LAUNCH_TIMEOUT_S
    )


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("ddp")
    data = shapes_npz(root / "shapes.npz")
    pack(f"npz:{data}", root / "packed", shard_rows=100)  # every rank maps the same shards
    jobs = [
        # Tracked (--log tensorboard) by rank 0; the untracked runs below must still be bitwise
        # this one, and rank 1 must write nothing (test_only_rank_zero_writes_the_run_directory).
        {"model": "conv-ae", "out": str(root / "conv"), "flags": {"data.name": str(data), **CONV},
         "set": [], "log": ["tensorboard"]},
        {"model": "aae", "out": str(root / "aae"), "flags": {"data.name": str(data), **AAE},
         "set": AAE_SET},
        # The conv run again, rank 1 pressing Ctrl-C in its 4th step (epoch 1), then resumed.
        {"model": "conv-ae", "out": str(root / "resumed"),
         "flags": {"data.name": str(data), **CONV}, "set": [], "interrupt_at": 4},
        # The AAE again (each rank's own generator states saved), stopped in epoch 2 step 3.
        {"model": "aae", "out": str(root / "aae-resumed"),
         "flags": {"data.name": str(data), **AAE}, "set": AAE_SET, "interrupt_at": 13},
        # The conv run on the same images packed into shards, read through memory maps.
        {"model": "conv-ae", "out": str(root / "shards"),
         "flags": {"data.name": f"shards:{root / 'packed'}", **CONV}, "set": []},
        {"model": "conv-vae", "out": str(root / "vae"), "flags": {"data.name": str(data), **VAE},
         "set": [*VAE_SET, GROUP]},
        {"model": "conv-vae", "out": str(root / "vae-bn"),
         "flags": {"data.name": str(data), **VAE}, "set": VAE_BN_SET},
        {"model": "aae", "out": str(root / "aae-group"), "flags": {"data.name": str(data), **AAE},
         "set": [*AAE_SET, GROUP]},
    ]  # fmt: skip
    spec = {"root": str(root), "report": str(root / "report.json"), "jobs": jobs}
    (root / "spec.json").write_text(json.dumps(spec))
    worker = torchrun(str(HERE / "worker.py"), str(root / "spec.json"), cwd=root)
    if worker.returncode != 0 and ABORT in worker.stderr:
        # A rank aborted inside torch (C++ terminate, SIGABRT): seen once in the full suite
        # under heavy load, never in 5 launches alone. Once more from scratch, and said.
        warnings.warn(f"torchrun worker: a rank aborted ({ABORT!r}); relaunched once", stacklevel=1)
        for job in jobs:
            shutil.rmtree(job["out"], ignore_errors=True)
        worker = torchrun(str(HERE / "worker.py"), str(root / "spec.json"), cwd=root)
    assert worker.returncode == 0, worker.stderr[-3000:]
    out = str(root / "cli")
    # --track is --log: torchrun's own parser calls --log ambiguous, even after the script
    cli = torchrun("-m", "aekit", "train", "conv-ae", "--data", str(data), "--out", out,
                   "--device", "cpu", "--no-progress", "--track", "tensorboard", *CONV_CLI,
                   cwd=root)  # fmt: skip
    return {"root": root, "data": data, "jobs": jobs, "cli": cli, "worker": worker,
            "report": json.loads((root / "report.json").read_text())}  # fmt: skip


def one_process(job: dict, out: Path) -> dict[str, torch.Tensor]:
    """`job` trained by this process, one thread as each rank: its model.safetensors."""
    from aekit.cli.train import build_run_config
    from aekit.runs import train_run

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        config = build_run_config(job["model"], None, job["flags"], job["set"])
        train_run(config, out, progress=False, device="cpu")
    finally:
        torch.set_num_threads(threads)
    return load_file(out / "model.safetensors")


# The three models of issue 12: the lesson conv-ae, and the default arch of conv-vae and the
# AAE with GroupNorm (no batch statistics), both with random draws of their own. The AAE's
# tolerance is wider: its weights drift further apart by rounding alone (measured 1.1e-5 at
# most, one near-zero weight of bottleneck.down, where Adam normalises a gradient that nearly
# cancels, so the order of the batch sum shows; 2e-7 for conv-vae), still a thousandth of
# what BatchNorm's per-rank statistics make (2e-2, the test below).
@pytest.mark.parametrize(
    ("index", "atol"), [(0, 1e-5), (7, 3e-5), (5, 1e-5)], ids=["conv-ae", "aae", "conv-vae"]
)
def test_two_ranks_train_the_weights_one_process_trains(runs, index, atol):
    job = runs["jobs"][index]
    one = one_process(job, runs["root"] / f"one-{index}")
    two = load_file(Path(job["out"]) / "model.safetensors")
    assert one.keys() == two.keys()
    for key in one:
        torch.testing.assert_close(two[key], one[key], rtol=0, atol=atol, msg=key)
    # Loss sums are all-reduced: the logged means are those of the global batch.
    rows = [metrics(runs["root"] / f"one-{index}"), metrics(Path(job["out"]))]
    for a, b in zip(*rows, strict=True):
        assert a["train_loss"] == pytest.approx(b["train_loss"], rel=1e-6)
        assert a["val_loss"] == pytest.approx(b["val_loss"], rel=1e-6)


def test_batchnorm_on_cpus_keeps_per_rank_statistics_and_says_so_once(runs):
    job = runs["jobs"][6]
    one = one_process(job, runs["root"] / "one-bn")
    two = load_file(Path(job["out"]) / "model.safetensors")
    # Each rank normalised its 16 rows with their own statistics: not the run of one process.
    assert max(float((two[k] - one[k]).abs().max()) for k in one) > 1e-3
    assert runs["report"]["jobs"][6]["rank_diff"] == 0.0  # rank 0's buffers, on every rank
    # Rank 0 says so in one line, once per process (this one trained three BatchNorm runs).
    assert runs["worker"].stderr.count("the model has BatchNorm") == 1


def metrics(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def test_every_rank_ends_with_the_same_weights(runs):
    # Gradients are averaged before each of the AAE's three steps; buffers come from rank 0.
    assert [job["rank_diff"] for job in runs["report"]["jobs"]] == [0.0] * len(runs["jobs"])


def test_one_ranks_ctrl_c_stops_all_and_the_resumed_run_is_bitwise_the_unstopped_one(runs):
    conv, resumed = runs["report"]["jobs"][0], runs["report"]["jobs"][2]
    assert conv["interrupted_ranks"] == 0
    assert resumed["interrupted_ranks"] == 2  # rank 1 was pressed; rank 0 stopped with it
    assert_same_run(Path(conv["out"]), Path(resumed["out"]))


def test_each_rank_resumes_its_own_random_stream(runs):
    # The AAE's prior draws are per global row now (the step's generator, from (seed, step));
    # torch's global generator is still each rank's own, for draws such as dropout.
    aae, resumed = runs["report"]["jobs"][1], runs["report"]["jobs"][3]
    assert resumed["interrupted_ranks"] == 2
    assert_same_run(Path(aae["out"]), Path(resumed["out"]))
    saved = load_file(Path(aae["out"]) / "checkpoint.safetensors")
    assert not torch.equal(saved["rng.torch"], saved["rng.rank1.torch"])  # two streams


def test_torchrun_of_the_cli_reruns_bitwise(runs):
    assert runs["cli"].returncode == 0, runs["cli"].stderr[-3000:]
    assert runs["cli"].stdout.count("trained 2 epochs") == 1  # rank 0 speaks for the run
    assert_same_run(Path(runs["jobs"][0]["out"]), runs["root"] / "cli")


def test_two_ranks_on_memory_mapped_shards_train_the_in_memory_run_bitwise(runs):
    conv, shards = runs["report"]["jobs"][0], runs["report"]["jobs"][4]
    assert_same_run(Path(conv["out"]), Path(shards["out"]))


def assert_same_run(one: Path, other: Path) -> None:
    """Bitwise the same weights, checkpoint tensors and logged numbers."""
    for name in ("model.safetensors", "checkpoint.safetensors"):
        a, b = load_file(one / name), load_file(other / name)
        assert a.keys() == b.keys()
        for key in a:
            assert torch.equal(a[key], b[key]), (name, key)
    timing = ("seconds", "images_per_s")
    strip = [{k: v for k, v in row.items() if k not in timing} for row in metrics(one)]
    assert strip == [{k: v for k, v in row.items() if k not in timing} for row in metrics(other)]


def test_rank_zero_alone_tracks_every_step_and_epoch(runs):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    for run in (Path(runs["jobs"][0]["out"]), runs["root"] / "cli"):  # train_run, and the CLI
        assert len(list((run / "tensorboard").iterdir())) == 1  # one event file: one writer
        events = EventAccumulator(str(run / "tensorboard"), size_guidance={"scalars": 0}).Reload()
        rows = metrics(run)
        per_epoch = 288 // 32  # shapes_npz: 320 rows, 10% held out; CONV's batch of 32
        assert [e.step for e in events.Scalars("step/loss")] == list(range(1, 2 * per_epoch + 1))
        logged = events.Scalars("epoch/train_loss")
        assert [e.step for e in logged] == [per_epoch * row["epoch"] for row in rows]
        # the global batch's loss (all-reduced), as metrics.jsonl has it
        assert [e.value for e in logged] == pytest.approx([r["train_loss"] for r in rows], 1e-6)
        assert len(events.Images("reconstructions")) == 2


def test_only_rank_zero_writes_the_run_directory(runs):
    writes = runs["report"]["writes"]
    assert writes[0] > 0  # the audit hook sees rank 0's files, so it would see rank 1's
    assert writes[1:] == [0]
    for job in runs["jobs"]:
        names = {p.name for p in Path(job["out"]).iterdir()}
        assert {"config.json", "model.safetensors", "checkpoint.safetensors"} <= names
        assert not [n for n in names if n.endswith(".part")]
