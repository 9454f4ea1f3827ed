"""Reconstruction quality: conv-ae at latent 16 on Fashion-MNIST against PCA(16).

Trains aekit's default conv-ae with a 16-number code, scores the test split after every epoch
(outside the timed training), and reports the final test metrics beside PCA(16) fitted on the
same training split, the MSE ratio, and the training wall time until the autoencoder first
matched PCA(16)'s test MSE.

    python benchmarks/quality.py [--epochs 15] [--latent-dim 16]
"""

from __future__ import annotations

import argparse

import torch
from common import print_table, write_json

from aekit import PCA, TrainConfig, Trainer, build_model, load_dataset
from aekit.evaluation.evaluate import evaluate_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--latent-dim", type=int, default=16)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    data = load_dataset("fashion-mnist")
    test = data.test.images
    pca = PCA(args.latent_dim).fit(data.train.images)
    torch.manual_seed(args.seed)
    model = build_model("conv-ae", image_shape=data.image_shape, latent_dim=args.latent_dim)

    curve = []
    elapsed = 0.0

    def score(row, model):
        nonlocal elapsed
        elapsed += row["seconds"]
        metrics, baselines = evaluate_model(model, test, baselines={"pca": pca.reconstruct})
        baseline = baselines["pca"]
        curve.append({"epoch": row["epoch"], "train_seconds": elapsed, **metrics,
                      "pca_mse": baseline["mse"]})  # fmt: skip
        print(f"epoch {row['epoch']}: {elapsed:.0f}s of training, test MSE {metrics['mse']:.5f}"
              f" (PCA({args.latent_dim}) {baseline['mse']:.5f})", flush=True)  # fmt: skip

    config = TrainConfig(epochs=args.epochs, seed=args.seed)
    result = Trainer(model, config, progress=False, callbacks=[score]).fit(data.train, data.val)
    final, theirs = evaluate_model(model, test, baselines={"pca": pca.reconstruct})  # best weights
    pca_metrics = theirs["pca"]
    reached = next((c for c in curve if c["mse"] <= c["pca_mse"]), None)

    rows = [[m, f"{final[m]:.4f}", f"{pca_metrics[m]:.4f}"] for m in ("mse", "bce", "psnr", "ssim")]
    k = args.latent_dim
    print(f"\nconv-ae (latent {k}) vs PCA({k}), Fashion-MNIST test split, "
          f"{args.epochs} epochs, {result.precision}")  # fmt: skip
    print_table(["metric", "conv-ae", f"PCA({args.latent_dim})"], rows)
    ratio = final["mse"] / pca_metrics["mse"]
    print(f"MSE ratio conv-ae / PCA: {ratio:.3f} (target <= 0.6)")
    if reached:
        print(f"matched PCA's test MSE after epoch {reached['epoch']}, "
              f"{reached['train_seconds']:.0f} s of training")  # fmt: skip
    path = write_json("quality", {
        "latent_dim": args.latent_dim, "epochs": args.epochs, "precision": result.precision,
        "conv_ae": final, "pca": pca_metrics, "mse_ratio": ratio,
        "pca_explained_variance": pca.explained_variance_ratio,
        "seconds_to_match_pca_mse": reached["train_seconds"] if reached else None,
        "epoch_matching_pca_mse": reached["epoch"] if reached else None, "curve": curve,
        "model_config": {k: v for k, v in vars(model.config).items()},
    })  # fmt: skip
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
