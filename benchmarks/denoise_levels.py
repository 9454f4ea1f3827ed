"""Blind denoising at fixed noise levels: the default denoiser beside per-level tuned classical.

Why: a user's images come with noise of unknown level, so `--task denoise` trains one network
over a range of levels (gaussian:0.05-0.5) and is scored at sigma 0.1, 0.2, 0.3 and 0.5, each
beside the best classical denoiser (Gaussian blur, median, total variation, non-local means)
tuned AT THAT LEVEL on validation images (modalities/images/evaluation_denoise.py). Trained on
Fashion-MNIST from the same seed, side by side:

* `unet blind`: `aekit train conv-ae --task denoise` as a user gets it (arch unet, blind);
* `conv-ae @0.3`: the denoiser before issue 14 (arch default, code map 4x4x32) trained at 0.3;
* `unet @S` for each S in --alone: the unet trained at sigma S alone (the issue's "model
  trained at that level alone" column; by default S = 0.3 only).

Each model trains in its own process with one torch thread, --parallel at a time (2 on two
cores). On a shared machine whole runs see different loads, so a speed round also times a few
training batches of the unet and of conv-ae @0.3 in turn, in one process, repeated: the
training-time ratio the issue bounds (<= 1.5x) is the median of those.

    python benchmarks/denoise_levels.py [--epochs 10] [--test-images 2000] [--limit N]
        [--alone 0.3 ...] [--parallel 2] [--speed-rounds 5] [--speed-only]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import median, print_table, write_json

SPEED_BATCHES = 8  # batches of 256 per model per speed round


def models(alone: list[float]) -> dict[str, list[str]]:
    """Name -> `aekit train conv-ae` settings (dotted, as --set takes them)."""
    table = {
        "unet blind": ["task.name=denoise"],  # the task's defaults: arch unet, gaussian:0.05-0.5
        "conv-ae @0.3": [
            "task.name=denoise", 'task.noise="gaussian:0.3"', 'model.arch="default"',
            "model.code_channels=32",
        ],
    }  # fmt: skip
    for sigma in alone:
        table[f"unet @{sigma:g}"] = ["task.name=denoise", f'task.noise="gaussian:{sigma:g}"']
    return table


def one(settings: list[str], epochs: int, limit: int | None, test_images: int) -> dict:
    """Train one model as `aekit train` would and score it at the fixed levels."""
    import torch

    torch.set_num_threads(1)
    from aekit import load_run, train_run
    from aekit.cli.train import build_run_config
    from aekit.modalities.images.evaluation_denoise import evaluate_denoising
    from aekit.modalities.images.tasks import build_task
    from aekit.runs import load_data

    extra = [f"train.epochs={epochs}"] + ([f"data.limit={limit}"] if limit else [])
    config = build_run_config("conv-ae", None, {}, settings + extra)
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        train_run(config, Path(tmp) / "run", progress=False)
        seconds = time.perf_counter() - started
        run = load_run(Path(tmp) / "run")
    dataset = load_data(run.config, limit=None)
    table = evaluate_denoising(
        run.model, dataset, "test", dataset.test.rows[:test_images], build_task(run.config.task)
    )
    return {
        "arch": run.config.model["arch"], "noise": run.config.task["noise"],
        "train_seconds": seconds, "levels": table.to_dict(),
    }  # fmt: skip


def speed(rounds: int) -> dict[str, float]:
    """Training images/s of `unet blind` and `conv-ae @0.3`, each round timing SPEED_BATCHES
    batches of each in turn (so both see the same load), the median over rounds."""
    import torch

    torch.set_num_threads(1)
    from aekit import Trainer, build_model
    from aekit.cli.train import build_run_config
    from aekit.modalities.images.tasks import build_task
    from aekit.runs import load_data

    table = models([])
    configs = {name: build_run_config("conv-ae", None, {}, table[name]) for name in table}
    data = load_data(configs["unet blind"], limit=None)
    batch = configs["unet blind"].train.batch_size
    rows = data.train.subset(range(batch * SPEED_BATCHES))
    rates: dict[str, list[float]] = {name: [] for name in configs}
    for _ in range(rounds):
        for name, config in configs.items():
            torch.manual_seed(0)
            model = build_model("conv-ae", image_shape=data.image_shape, **config.model)
            trainer = Trainer(model, config.train, task=build_task(config.task), progress=False)
            rates[name].append(trainer.fit(rows).history[0]["images_per_s"])
    return {name: median(r) for name, r in rates.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--test-images", type=int, default=2000)
    parser.add_argument("--limit", type=int, default=None, help="training images (smoke runs)")
    parser.add_argument("--alone", type=float, nargs="*", default=[0.3])
    parser.add_argument("--parallel", type=int, default=2)
    parser.add_argument("--speed-rounds", type=int, default=5)
    parser.add_argument("--speed-only", action="store_true", help="only the speed round")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # worker: the model's name
    parser.add_argument("--into", help=argparse.SUPPRESS)  # worker: its JSON
    args = parser.parse_args()
    table = models(args.alone)
    if args.one:
        result = one(table[args.one], args.epochs, args.limit, args.test_images)
        Path(args.into).write_text(json.dumps(result))
        return
    if args.speed_only:
        rates = speed(args.speed_rounds)
        print(json.dumps({**rates, "ratio": rates["conv-ae @0.3"] / rates["unet blind"]}))
        return
    results: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        pending = list(table)
        running: list[tuple[str, subprocess.Popen, Path]] = []
        while pending or running:
            while pending and len(running) < args.parallel:
                name = pending.pop(0)
                into = Path(tmp) / f"{len(running)}-{time.time_ns()}.json"
                argv = [sys.executable, __file__, "--one", name, "--into", str(into), "--epochs",
                        str(args.epochs), "--test-images", str(args.test_images)]  # fmt: skip
                argv += ["--limit", str(args.limit)] if args.limit else []
                running.append((name, subprocess.Popen(argv), into))
            time.sleep(1)
            for entry in [r for r in running if r[1].poll() is not None]:
                name, process, into = entry
                running.remove(entry)
                if process.returncode:
                    for _, other, _ in running:
                        other.kill()
                    raise SystemExit(f"{name}: exited {process.returncode}")
                results[name] = json.loads(into.read_text())
    results = {name: results[name] for name in table}  # in the table's order, not finishing
    rates = speed(args.speed_rounds)
    print_table(*levels_table(results))
    base = results["conv-ae @0.3"]["train_seconds"]
    for name, r in results.items():
        print(f"{name}: trained {r['train_seconds']:.0f} s ({r['train_seconds'] / base:.2f}x)")
    ratio = rates["conv-ae @0.3"] / rates["unet blind"]
    print(f"speed round: unet {rates['unet blind']:.0f} images/s, conv-ae "
          f"{rates['conv-ae @0.3']:.0f} images/s: the unet takes {ratio:.2f}x as long")  # fmt: skip
    write_json("denoise_levels", {
        "epochs": args.epochs, "test_images": args.test_images, "limit": args.limit,
        "models": results, "speed_images_per_s": rates, "time_ratio": ratio,
    })  # fmt: skip


def levels_table(results: dict) -> tuple[list[str], list[list[str]]]:
    """One row per level: the tuned classical filter, then each model's PSNR and gain."""
    first = next(iter(results.values()))["levels"]["rows"]
    heads = ["noise", "classical (tuned)", "PSNR"]
    for name in results:
        heads += [name, "gain"]
    rows = []
    for i, level in enumerate(first):
        row = [level["noise"], level["classical"], f"{level['classical_psnr']:.2f}"]
        for r in results.values():
            mine = r["levels"]["rows"][i]
            row += [f"{mine['model_psnr']:.2f}", f"{mine['gain_db']:+.2f}"]
        rows.append(row)
    return heads, rows


if __name__ == "__main__":
    main()
