"""A first run that learns: the README's Python example under fixed and adaptive training.

The README's example trains conv-ae (latent 8) on `digits` (1,294 training images, 8x8) and
reports its test MSE beside PCA(8). With `TrainConfig(epochs=3)` and batch 256 that was 15
optimizer steps and an MSE several times PCA's (issue 14). This trains the same model under a
few step budgets, and under the adaptive defaults (`TrainConfig()`: a batch of at most 1/8 of
the split, at least MIN_STEPS steps), and prints test MSE against PCA(8)'s with the wall time,
one thread, same seed.

    python benchmarks/first_run.py [--data digits] [--latent-dim 8]
"""

from __future__ import annotations

import argparse
import time

import torch
from common import print_table, write_json

from aekit import PCA, TrainConfig, Trainer, build_model, load_dataset
from aekit.evaluation.evaluate import evaluate_model

# (label, TrainConfig fields): the README's old call, fixed budgets, then the defaults.
SETTINGS = [
    ("epochs=3 (old README)", {"epochs": 3, "batch_size": 256}),
    ("epochs=10, batch 256 (old default)", {"epochs": 10, "batch_size": 256}),
    ("50 epochs, batch 128", {"epochs": 50, "batch_size": 128}),
    ("200 epochs, batch 128", {"epochs": 200, "batch_size": 128}),
    ("adaptive: TrainConfig()", {}),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="digits")
    parser.add_argument("--latent-dim", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    data = load_dataset(args.data)
    pca = PCA(args.latent_dim).fit(data.train.images)
    rows, runs = [], []
    for label, fields in SETTINGS:
        torch.manual_seed(args.seed)
        model = build_model("conv-ae", image_shape=data.image_shape, latent_dim=args.latent_dim)
        trainer = Trainer(model, TrainConfig(seed=args.seed, **fields), progress=False)
        started = time.perf_counter()
        trainer.fit(data.train, data.val)
        wall = time.perf_counter() - started
        cfg = trainer.config  # resolved: the epochs and batch size that ran
        steps = cfg.epochs * max(len(data.train) // cfg.batch_size, 1)
        ours, theirs = evaluate_model(model, data.test.images, baselines={"pca": pca.reconstruct})
        ratio = ours["mse"] / theirs["pca"]["mse"]
        runs.append({"setting": label, "epochs": cfg.epochs, "batch_size": cfg.batch_size,
                     "steps": steps, "test_mse": ours["mse"], "pca_mse": theirs["pca"]["mse"],
                     "ratio": ratio, "wall_s": wall})  # fmt: skip
        rows.append([label, cfg.epochs, cfg.batch_size, steps, f"{ours['mse']:.4f}",
                     f"{ratio:.2f}", f"{wall:.1f}"])  # fmt: skip
        print(f"{label}: MSE {ours['mse']:.4f} ({ratio:.2f}x PCA), {wall:.1f} s", flush=True)
    print(f"\nconv-ae (latent {args.latent_dim}) on {args.data} ({len(data.train)} training "
          f"images), test MSE beside PCA({args.latent_dim}) {runs[0]['pca_mse']:.4f}; "
          "1 thread")  # fmt: skip
    print_table(["training", "epochs", "batch", "steps", "test MSE", "vs PCA", "wall s"], rows)
    path = write_json("first_run", {"data": args.data, "latent_dim": args.latent_dim,
                                    "train_rows": len(data.train), "runs": runs})  # fmt: skip
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
