"""Blind super-resolution (issue 14): which training degradation and which sr network, per kernel.

Why: the default sr model was trained on bicubic downscaling alone and scored on it; on images
shrunk any other way its gain over bicubic upsampling halves. This trains, on Fashion-MNIST from
the same seed, each of

* ``espcn-bicubic``: today's default before issue 14 (ESPCN, fixed bicubic kernel);
* ``espcn-blind``: the same network on a random kernel per image (task.downscale=random);
* ``residual-blind``: the new default (ESPCN over a bicubic skip, VDSR-style) on random kernels;

and scores each on the test split per kernel (area, bilinear, bicubic, blur, and Pillow's
Lanczos, which no run trains on) beside bicubic and bilinear upsampling of the same 8-bit input
(aekit.modalities.images.evaluation_sr, the table `aekit eval` prints), with training time.
Each run is its own process with one torch thread (two at a time with --parallel 2), so the runs
compared share the machine alike and the training-time ratio is side by side.

    python benchmarks/blind_sr.py [--epochs 3] [--limit 20000] [--scale 2] [--runs a,b,c]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from common import median, print_table, write_json

from aekit import TrainConfig, Trainer, build_model, load_dataset
from aekit.modalities.images.evaluation_sr import evaluate_sr
from aekit.modalities.images.tasks import TaskConfig, build_task

RUNS = {  # name -> (model arch, task.downscale)
    "espcn-bicubic": ("espcn", "bicubic"),
    "espcn-blind": ("espcn", "random"),
    "residual-blind": ("residual", "random"),
}


def worker(name: str, args, out: Path) -> None:
    torch.set_num_threads(1)
    arch, method = RUNS[name]
    data = load_dataset("fashion-mnist", limit=args.limit)
    task = build_task(TaskConfig(name="superres", scale=args.scale, downscale=method))
    torch.manual_seed(args.seed)
    model = build_model("sr", arch=arch, scale=args.scale,
                        image_shape=list(task.input_shape(data.image_shape)))  # fmt: skip
    config = TrainConfig(epochs=args.epochs, seed=args.seed)
    started = time.perf_counter()
    result = Trainer(model, config, task=task, progress=False).fit(data.train, data.val)
    wall = time.perf_counter() - started
    table = evaluate_sr(model, data.test.images, task)
    print(f"{name} x{args.scale}: {wall:.0f} s\n{table.table()}", flush=True)
    out.write_text(json.dumps({
        "run": name, "arch": arch, "downscale": method, "scale": args.scale, "wall_s": wall,
        "train_images_per_s": median([r["images_per_s"] for r in result.history]),
        "parameters": sum(p.numel() for p in model.parameters()),
        "per_kernel": table.to_dict(),
    }))  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--limit", type=int, default=20000)
    parser.add_argument("--scale", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--parallel", type=int, default=2)
    parser.add_argument("--runs", default=",".join(RUNS))
    parser.add_argument("--worker")
    parser.add_argument("--part", type=Path)
    args = parser.parse_args()
    if args.limit is not None and args.limit <= 0:
        args.limit = None
    if args.worker:
        worker(args.worker, args, args.part)
        return
    names = args.runs.split(",")
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        pending, running = list(names), []
        while pending or running:
            while pending and len(running) < args.parallel:
                name = pending.pop(0)
                part = Path(tmp) / f"{name}.json"
                command = [sys.executable, __file__, "--worker", name, "--part", str(part),
                           "--epochs", str(args.epochs), "--limit", str(args.limit or 0),
                           "--scale", str(args.scale), "--seed", str(args.seed)]  # fmt: skip
                running.append((name, part, subprocess.Popen(command)))
            time.sleep(2)
            for item in list(running):
                if item[2].poll() is not None:
                    running.remove(item)
                    if item[2].returncode == 0:
                        results[item[0]] = json.loads(item[1].read_text())
    headers = ["run", "kernel", "model PSNR", "bicubic", "bilinear", "gain dB", "SSIM", "train s"]
    rows = []
    for name in names:
        r = results.get(name)
        if r is None:
            continue
        for kernel, k in r["per_kernel"]["kernels"].items():
            rows.append([
                name, kernel + ("" if k["seen"] else " *"), f"{k['model_psnr']:.2f}",
                f"{k['bicubic_psnr']:.2f}", f"{k['bilinear_psnr']:.2f}", f"{k['gain_db']:+.2f}",
                f"{k['model_ssim']:.4f}", f"{r['wall_s']:.0f}",
            ])  # fmt: skip
    print_table(headers, rows)
    tag = f"x{args.scale}_e{args.epochs}_" + (f"n{args.limit}" if args.limit else "full")
    if names != list(RUNS):  # a subset of the runs: name them, so runs do not overwrite others
        tag += "_" + "+".join(names)
    write_json(f"blind_sr_{tag}", {"args": vars(args) | {"part": None}, "results": results})


if __name__ == "__main__":
    main()
