"""Data-parallel training on one CPU: 1 process x 2 threads against 2 torchrun ranks x 1 thread.

Side by side in one run, each cell a fresh `aekit train` (so each pays its own start-up), on
Fashion-MNIST (the first `--limit` training images), the same global batch, seed, precision
(auto: bf16 where the CPU has it) and epochs:

* **1 process x 2 threads**: ``aekit train ... --threads 2``;
* **2 ranks x 1 thread**: ``torchrun --standalone --nproc-per-node 2 -m aekit train ...
  --threads 1`` (gloo; every step all-reduces the gradients once per optimizer);
* **2 independent processes x 1 thread** (the ceiling): two one-thread ``aekit train`` at
  once, each on half the images at half the batch, no communication; their images/s added.

The figure of each cell is the median over epochs 2.. of the trainer's own images/s (global
rows over epoch seconds; the first epoch pays warm-up). Models: the lesson's conv-ae
(``--arch lesson``, 16-8-8), the lesson-sized conv-vae (``--arch lesson``) and both at their
default architecture, over batch sizes, so the crossover (where two ranks start to beat one
two-thread process) shows. About 15 minutes with the defaults on 2 idle cores:

    python benchmarks/ddp_cpu.py [--limit 12000] [--epochs 3] [--batch-sizes 64,256,1024]

Writes benchmarks/results/ddp_cpu.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from common import median, print_table, write_json

HERE = Path(__file__).resolve().parent
AEKIT = [sys.executable, "-m", "aekit"]
TORCHRUN = [sys.executable, "-m", "torch.distributed.run"]

MODELS = {  # label: the model and its architecture arguments
    "conv-ae lesson": ["conv-ae", "--arch", "lesson"],
    "conv-vae lesson": ["conv-vae", "--arch", "lesson"],
    "conv-ae default": ["conv-ae"],
    "conv-vae default": ["conv-vae"],
}


def environment(threads: int) -> dict[str, str]:
    env = dict(os.environ)
    env.update(OMP_NUM_THREADS=str(threads), TORCH_DISABLE_SHARE_RDZV_TCP_STORE="1")
    env.pop("WORLD_SIZE", None)
    return env


def train_args(model: list[str], out: Path, args, batch: int, limit: int, threads: int):
    return [
        "train", *model, "--data", "fashion-mnist", "--limit", str(limit),
        "--epochs", str(args.epochs), "--batch-size", str(batch), "--seed", "0",
        "--threads", str(threads), "--out", str(out), "--no-progress",
    ]  # fmt: skip


def epoch_rates(out: Path) -> list[float]:
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    return [row["images_per_s"] for row in rows if "epoch" in row and "step" not in row]


def run(cmd: list[str], env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)  # fmt: skip


def finish(procs: list[subprocess.Popen], what: str) -> None:
    for proc in procs:
        output, _ = proc.communicate()
        if proc.returncode:
            sys.exit(f"{what} failed ({proc.returncode}):\n{output[-3000:]}")


def steady(rates: list[float]) -> float:
    return median(rates[1:] if len(rates) > 1 else rates)


def one_process(tmp: Path, model, args, batch: int) -> float:
    out = tmp / "one"
    finish([run(AEKIT + train_args(model, out, args, batch, args.limit, 2), environment(2))],
           "1 process x 2 threads")  # fmt: skip
    return steady(epoch_rates(out))


def two_ranks(tmp: Path, model, args, batch: int) -> float:
    out = tmp / "ddp"
    cmd = TORCHRUN + ["--standalone", "--nproc-per-node", "2", "-m", "aekit"]
    finish([run(cmd + train_args(model, out, args, batch, args.limit, 1), environment(1))],
           "2 ranks x 1 thread")  # fmt: skip
    return steady(epoch_rates(out))


def two_independent(tmp: Path, model, args, batch: int) -> float:
    outs = [tmp / f"solo{i}" for i in range(2)]
    procs = [
        run(AEKIT + train_args(model, out, args, batch // 2, args.limit // 2, 1), environment(1))
        for out in outs
    ]
    finish(procs, "independent 1-thread processes")
    return sum(steady(epoch_rates(out)) for out in outs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=12000)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-sizes", default="64,256,1024")
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--no-independent", action="store_true",
                        help="skip the two-independent-processes ceiling")  # fmt: skip
    args = parser.parse_args()
    batches = [int(b) for b in args.batch_sizes.split(",")]
    rows, records = [], []
    for label in args.models.split(","):
        for batch in batches:
            tmp = Path(tempfile.mkdtemp(prefix="aekit-ddp-bench-"))
            try:
                one = one_process(tmp, MODELS[label], args, batch)
                ddp = two_ranks(tmp, MODELS[label], args, batch)
                solo = None if args.no_independent else two_independent(
                    tmp, MODELS[label], args, batch)  # fmt: skip
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
            record = {"model": label, "batch": batch, "one_process_2_threads": one,
                      "two_ranks_1_thread": ddp, "two_independent_1_thread": solo,
                      "ranks_over_process": ddp / one}  # fmt: skip
            records.append(record)
            rows.append([label, batch, f"{one:,.0f}", f"{ddp:,.0f}", f"{ddp / one:.2f}x",
                         "-" if solo is None else f"{solo:,.0f}"])  # fmt: skip
            print(f"  {label} batch {batch}: 1x2 {one:,.0f}, 2x1 {ddp:,.0f} images/s", flush=True)
    print()
    print_table(["model", "batch", "1 proc x 2 thr", "2 ranks x 1 thr", "ranks/proc",
                 "2 indep. x 1 thr"], rows)  # fmt: skip
    path = write_json("ddp_cpu", {"limit": args.limit, "epochs": args.epochs,
                                  "command": " ".join(["python", *sys.argv]),
                                  "results": records})  # fmt: skip
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
