"""GPU throughput: the lesson conv-ae, conv-vae and sr on Fashion-MNIST, on CUDA, through the CLI.

One prepared command for a GPU machine (issue 12), under 8 minutes on one modern GPU:

    python benchmarks/gpu.py           # every model on cuda; 2-GPU scaling where there are 2
    python benchmarks/gpu.py --device cpu --epochs 1 --limit 2048 --batch-size 256   # smoke test

Each model is trained by `aekit train` exactly as a user would (data kept on the device when it
fits, bf16 autocast on CUDA where supported: `--precision auto`), with a large batch because the
nets are tiny. Throughput is read back from the run's metrics.jsonl: the median of the epochs'
images/s after the first (which pays for cuDNN autotuning and allocator warm-up). With two or
more GPUs the same runs are repeated under `torchrun --nproc-per-node 2` (the global batch is
unchanged) and the scaling is the ratio of the two medians. Writes benchmarks/results/gpu.json.

Target (issue 12): the lesson conv-ae at >= 100,000 images/s on one modern GPU with its data on
the device (pythae's published DDP figure: about 21,000 images/s per V100).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from common import median, print_table, write_json

MODELS = {
    "conv-ae (lesson)": ["conv-ae", "--arch", "lesson"],
    "conv-vae": ["conv-vae"],
    "sr x2": ["sr", "--task", "superres", "--scale", "2"],
    # torch.compile (train.compile) where it may pay: on this project's CPU it made the lesson
    # net 0.54x as fast (benchmarks/compile.py); a GPU's fused kernels are the other question
    "conv-ae (lesson), compiled": ["conv-ae", "--arch", "lesson", "--set", "train.compile=true"],
}
TARGET = 100_000  # images/s, lesson conv-ae on one GPU


def train(args: argparse.Namespace, flags: list[str], out: Path, ranks: int) -> dict:
    """One `aekit train` run (under torchrun when ranks > 1) -> its throughput figures."""
    common = ["train", *flags, "--data", "fashion-mnist", "--out", str(out), "--no-progress",
              "--epochs", str(args.epochs), "--batch-size", str(args.batch_size),
              "--device", args.device]  # fmt: skip
    if args.limit:
        common += ["--limit", str(args.limit)]
    if ranks > 1:
        command = [sys.executable, "-m", "torch.distributed.run", "--standalone",
                   "--nproc-per-node", str(ranks), "-m", "aekit", *common]  # fmt: skip
    else:
        command = [sys.executable, "-m", "aekit", *common]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, timeout=args.timeout)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        return {"error": (done.stderr or done.stdout).strip().splitlines()[-1:], "wall_s": wall}
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    rates = [r["images_per_s"] for r in rows]
    steady = rates[1:] or rates
    return {
        "images_per_s": median(steady), "epochs": rates, "wall_s": round(wall, 1),
        "val_loss": rows[-1].get("val_loss"), "command": "aekit " + " ".join(common),
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=4096)
    parser.add_argument("--limit", type=int, default=None, help="training images (smoke tests)")
    parser.add_argument("--timeout", type=float, default=150.0, help="seconds per run")
    args = parser.parse_args()
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print("no CUDA device here: run this on a GPU machine (or --device cpu to smoke-test)")
        sys.exit(2)
    gpus = torch.cuda.device_count() if args.device.startswith("cuda") else 0
    device_name = torch.cuda.get_device_name(0) if gpus else args.device
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for index, (name, flags) in enumerate(MODELS.items()):
            results[name] = {"1": train(args, flags, Path(tmp) / f"{index}-1", 1)}
            if gpus >= 2:
                results[name]["2"] = train(args, flags, Path(tmp) / f"{index}-2", 2)
    rows = []
    for name, by_ranks in results.items():
        one, two = by_ranks["1"], by_ranks.get("2", {})
        rate = one.get("images_per_s")
        scale = (two["images_per_s"] / rate) if rate and "images_per_s" in two else None
        rows.append([
            name, f"{rate:,.0f}" if rate else f"failed: {one.get('error')}",
            f"{two['images_per_s']:,.0f}" if "images_per_s" in two else "-",
            f"{scale:.2f}x" if scale else "-", f"{one['wall_s']:.0f}",
        ])  # fmt: skip
    print(f"device: {device_name} ({gpus} CUDA devices), batch {args.batch_size}, "
          f"{args.epochs} epochs, torch {torch.__version__}")  # fmt: skip
    print_table(["model", "images/s (1)", "images/s (2 ranks)", "scaling", "wall s"], rows)
    lesson = results["conv-ae (lesson)"]["1"].get("images_per_s")
    if lesson is not None and gpus:
        verdict = "met" if lesson >= TARGET else "missed"
        print(f"target: lesson conv-ae >= {TARGET:,} images/s on one GPU: {lesson:,.0f} "
              f"({verdict})")  # fmt: skip
    path = write_json("gpu", {
        "device": device_name, "cuda_devices": gpus, "batch_size": args.batch_size,
        "epochs": args.epochs, "limit": args.limit, "results": results,
        "env": {k: v for k, v in os.environ.items() if k.startswith("CUDA")},
    })  # fmt: skip
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
