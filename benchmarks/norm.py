"""BatchNorm, GroupNorm or no normalisation in the default conv architecture, side by side.

Why: plain BatchNorm under data parallelism normalises each rank's slice with its own
statistics, so a BatchNorm model's result depends on the world size (docs/distributed.md,
"BatchNorm"); GroupNorm and no normalisation do not. This measures what each costs on real
data: conv-ae (latent 16) and conv-vae with their default settings, trained on Fashion-MNIST
for the same epochs from the same seed, with `model.norm` batch, group and none:

* test MSE (and the other image metrics); conv-ae's beside PCA(16) on the same split;
* conv-vae's test -ELBO in nats per image (one reparameterised sample per image, fixed draws);
* training images/s: each run's own epochs, and (fairer on a shared machine) a speed round
  that times a few batches of every norm in turn, repeated, so the ratios between norms are
  measured under the same load.

Each model runs in its own process with one torch thread (two at a time with --parallel 2, the
default, on two cores), so the two models' runs share the machine alike.

    python benchmarks/norm.py [--epochs 5] [--parallel 2] [--speed-rounds 3] [--limit N]
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
import torch.nn.functional as F
from common import median, print_table, write_json

from aekit import PCA, TrainConfig, Trainer, build_model, load_dataset
from aekit.evaluation.evaluate import evaluate_model
from aekit.training.batches import derived_seed

MODELS = ("conv-ae", "conv-vae")
NORMS = ("batch", "group", "none")
LATENT = 16  # conv-ae's code size beside PCA(16); conv-vae's default latent_dim is 16 too
SPEED_BATCHES = 20  # batches per norm per speed round


@torch.no_grad()
def neg_elbo(model, images, seed: int, batch_size: int = 1000) -> float:
    """Mean -ELBO (nats per image) on `images` (uint8): BCE of one reparameterised sample's
    decoding plus KL(q(z|x) || N(0, I)), fp32, the same draws for every model."""
    model.eval()
    generator = torch.Generator().manual_seed(derived_seed(seed, 0, 7))
    total = 0.0
    for start in range(0, len(images), batch_size):
        x = torch.from_numpy(images[start : start + batch_size]).float() / 255.0
        posterior = model.encode(x)
        logits = model.decode_logits(posterior.sample(generator))
        bce = F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(1)
        total += float((bce + posterior.kl()).sum())
    return total / len(images)


def train_one(name: str, norm: str, data, epochs: int, seed: int, baselines=None) -> dict:
    torch.manual_seed(seed)
    model = build_model(name, image_shape=data.image_shape, latent_dim=LATENT, norm=norm)
    config = TrainConfig(epochs=epochs, seed=seed)
    started = time.perf_counter()
    result = Trainer(model, config, progress=False).fit(data.train, data.val)
    wall = time.perf_counter() - started
    metrics, theirs = evaluate_model(model, data.test.images, baselines=baselines)  # best weights
    row = {
        "model": name, "norm": norm, "test": metrics, "wall_s": round(wall, 1),
        "train_images_per_s": round(median([r["images_per_s"] for r in result.history]), 1),
        "val_loss": result.history[-1]["val_loss"], "precision": result.precision,
        "parameters": sum(p.numel() for p in model.parameters()),
    }  # fmt: skip
    if name == "conv-vae":
        row["test_neg_elbo"] = neg_elbo(model, data.test.images, seed)
    row.update({f"{k}_test": v for k, v in theirs.items()})
    print(f"{name} norm={norm}: test MSE {metrics['mse']:.5f}, {wall:.0f} s", flush=True)
    return row


def speed(name: str, data, rounds: int, seed: int) -> dict[str, float]:
    """Training images/s per norm, each round timing SPEED_BATCHES batches of every norm in
    turn (so each norm sees the same load), the median over rounds."""
    config = TrainConfig(epochs=1, seed=seed)
    rows = data.train.subset(range(min(config.batch_size * SPEED_BATCHES, len(data.train))))
    rates: dict[str, list[float]] = {norm: [] for norm in NORMS}
    for _ in range(rounds):
        for norm in NORMS:
            torch.manual_seed(seed)
            model = build_model(name, image_shape=data.image_shape, latent_dim=LATENT, norm=norm)
            result = Trainer(model, config, progress=False).fit(rows)
            rates[norm].append(result.history[0]["images_per_s"])
    return {norm: median(r) for norm, r in rates.items()}


def worker(name: str, epochs: int, seed: int, rounds: int, limit, out: Path) -> None:
    """One model's three runs and its speed rounds, in this process, one thread."""
    torch.set_num_threads(1)
    data = load_dataset("fashion-mnist", limit=limit)
    baselines = None
    if name == "conv-ae":  # PCA(16) scored beside the first run, on the same test pairs
        baselines = {f"pca{LATENT}": PCA(LATENT).fit(data.train.images).reconstruct}
    runs = [
        train_one(name, norm, data, epochs, seed, baselines if i == 0 else None)
        for i, norm in enumerate(NORMS)
    ]
    part = {"runs": runs, "speed_images_per_s": speed(name, data, rounds, seed)}
    out.write_text(json.dumps(part))


def launch(name: str, args, out: Path) -> subprocess.Popen:
    command = [sys.executable, __file__, "--worker", name, "--part", str(out),
               "--epochs", str(args.epochs), "--seed", str(args.seed),
               "--speed-rounds", str(args.speed_rounds)]  # fmt: skip
    if args.limit is not None:
        command += ["--limit", str(args.limit)]
    return subprocess.Popen(command)


def table(results: dict) -> tuple[list[str], list[list[str]]]:
    headers = ["model", "norm", "test MSE", "vs batch", "vs PCA(16)", "test -ELBO",
               "img/s (run)", "img/s (rounds)", "speed vs batch"]  # fmt: skip
    rows = []
    for name in MODELS:
        part = results[name]
        runs = {r["norm"]: r for r in part["runs"]}
        pca = runs["batch"].get(f"pca{LATENT}_test", {}).get("mse")
        rates = part["speed_images_per_s"]
        for norm in NORMS:
            r = runs[norm]
            mse = r["test"]["mse"]
            elbo = r.get("test_neg_elbo")
            rows.append([
                name, norm, f"{mse:.5f}", f"{mse / runs['batch']['test']['mse']:.3f}",
                f"{mse / pca:.3f}" if pca else "",
                f"{elbo:.2f}" if elbo is not None else "",
                f"{r['train_images_per_s']:,.0f}", f"{rates[norm]:,.0f}",
                f"{rates[norm] / rates['batch']:.2f}",
            ])  # fmt: skip
    return headers, rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--parallel", type=int, default=2, choices=(1, 2))
    parser.add_argument("--speed-rounds", type=int, default=3)
    parser.add_argument("--limit", type=int, help="train on this many images (a quick try)")
    parser.add_argument("--worker", choices=MODELS, help=argparse.SUPPRESS)
    parser.add_argument("--part", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.epochs, args.seed, args.speed_rounds, args.limit, args.part)
        return

    started = time.perf_counter()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        parts = {name: Path(tmp) / f"{name}.json" for name in MODELS}
        if args.parallel == 2:
            procs = [launch(name, args, parts[name]) for name in MODELS]
            codes = [p.wait() for p in procs]
        else:
            codes = [launch(name, args, parts[name]).wait() for name in MODELS]
        if any(codes):
            sys.exit(f"a worker failed: exit codes {codes}")
        results = {name: json.loads(parts[name].read_text()) for name in MODELS}
    wall = time.perf_counter() - started

    headers, rows = table(results)
    print(f"\nFashion-MNIST, {args.epochs} epochs, seed {args.seed}, default settings, latent "
          f"{LATENT}, one thread per process, {args.parallel} processes at a time; "
          f"{wall / 60:.1f} min in all")  # fmt: skip
    print_table(headers, rows)
    print(
        "vs batch: test MSE / the BatchNorm run's; img/s (rounds): median of "
        f"{args.speed_rounds} rounds of {SPEED_BATCHES} batches per norm, in turn"
    )
    path = write_json("norm", {
        "epochs": args.epochs, "seed": args.seed, "latent_dim": LATENT,
        "parallel": args.parallel, "limit": args.limit, "threads_per_process": 1,
        "wall_s": round(wall, 1),
        "models": results, "table": {"headers": headers, "rows": rows},
    })  # fmt: skip
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
