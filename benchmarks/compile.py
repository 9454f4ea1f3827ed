"""`train.compile`: torch.compile's forward pass against eager, side by side, through the trainer.

Each model trains `--epochs` epochs on the first `--limit` Fashion-MNIST training images twice,
eager then compiled (``TrainConfig(compile=True)``: ``nn.Module.compile``, in place), same seed,
batch, precision (auto: bf16 where the CPU has it) and thread count. Reported: the steady rate
(median images/s of epochs 2..; the trainer's own figure) and the first epoch's seconds, which
pay for the compile. Runs on whatever device `--device` names (a GPU: benchmarks/gpu.py's
machine).

    python benchmarks/compile.py [--limit 12000] [--epochs 3] [--threads 1] [--device auto]

Writes benchmarks/results/compile.json.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import torch
from common import median, print_table, write_json

from aekit import RunConfig, TrainConfig, default_run_config, train_run
from aekit.config import DataConfig

MODELS = {
    "conv-ae lesson": ("conv-ae", {"arch": "lesson"}, {}),
    "conv-ae": ("conv-ae", {}, {}),
    "conv-vae": ("conv-vae", {}, {}),
    "sr x2": ("sr", {}, {"name": "superres", "scale": 2}),
}


def train(label: str, compiled: bool, args, work: Path) -> list[dict]:
    name, model, task = MODELS[label]
    base = default_run_config(name)
    config = RunConfig(
        model_name=name, model={**base.model, **model}, task={**base.task, **task},
        data=DataConfig(name="fashion-mnist", limit=args.limit),
        train=TrainConfig(epochs=args.epochs, compile=compiled), aekit_version=base.aekit_version,
    )  # fmt: skip
    out = work / f"{label.replace(' ', '-')}-{'compiled' if compiled else 'eager'}"
    return train_run(config, out, progress=False, device=args.device).history


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=12000)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--models", default=",".join(MODELS))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rows, records = [], []
    with tempfile.TemporaryDirectory(prefix="aekit-compile-") as tmp:
        for label in args.models.split(","):
            runs = {mode: train(label, mode == "compiled", args, Path(tmp))
                    for mode in ("eager", "compiled")}  # fmt: skip
            rate = {m: median([r["images_per_s"] for r in h[1:]]) for m, h in runs.items()}
            first = {m: h[0]["seconds"] for m, h in runs.items()}
            records.append({"model": label, "images_per_s": rate, "first_epoch_seconds": first,
                            "speedup": rate["compiled"] / rate["eager"]})  # fmt: skip
            rows.append([label, f"{rate['eager']:,.0f}", f"{rate['compiled']:,.0f}",
                         f"{rate['compiled'] / rate['eager']:.2f}x",
                         f"{first['eager']:.1f}", f"{first['compiled']:.1f}"])  # fmt: skip
            print(f"  {label}: eager {rate['eager']:,.0f}, compiled {rate['compiled']:,.0f}",
                  flush=True)  # fmt: skip
    print()
    print_table(["model", "eager img/s", "compiled img/s", "speed-up", "epoch 1 s eager",
                 "epoch 1 s compiled"], rows)  # fmt: skip
    device = str(torch.device("cuda" if torch.cuda.is_available() else "cpu")
                 if args.device == "auto" else args.device)  # fmt: skip
    path = write_json("compile", {"limit": args.limit, "epochs": args.epochs,
                                  "threads": args.threads, "device": device,
                                  "results": records})  # fmt: skip
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
