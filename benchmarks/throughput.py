"""Training throughput: aekit's trainer against a plain PyTorch loop, side by side in one run.

The lesson's architecture (conv 16-8-8, `--arch lesson`) on Fashion-MNIST, batch 256, the same
number of epochs for both. The plain loop is the lesson's style: a DataLoader over fp32 tensors,
Adam at a constant learning rate, BCE averaged over pixels, fp32, NCHW. aekit runs the same
optimizer and learning rate (so only the loop differs) in fp32 and with bf16 autocast where the
CPU has bf16, channels-last, uint8 batches gathered in memory; then once more with its own
defaults (AdamW, cosine schedule). All models are scored by the same function in fp32 on the
test split.

Also measures the peak resident memory of a whole `aekit train` process.

    python benchmarks/throughput.py [--epochs 10]
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time

import torch
import torch.nn.functional as F
from common import median, print_table, write_json
from torch.utils.data import DataLoader, TensorDataset

from aekit import TrainConfig, Trainer, build_model, load_dataset
from aekit.evaluation.evaluate import evaluate_model


def plain_loop(data, epochs: int, batch_size: int, lr: float, seed: int):
    """The lesson's loop, ported to PyTorch as a newcomer would write it."""
    torch.manual_seed(seed)
    model = build_model("conv-ae", arch="lesson", image_shape=data.image_shape)
    images = torch.from_numpy(data.train.images).float() / 255.0
    loader = DataLoader(TensorDataset(images), batch_size=batch_size, shuffle=True)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    rates = []
    for _ in range(epochs):
        model.train()
        started, seen = time.perf_counter(), 0
        for (x,) in loader:
            recon = model(x).recon
            loss = F.binary_cross_entropy(recon, x)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            seen += x.shape[0]
        rates.append(seen / (time.perf_counter() - started))
    return model, rates


def aekit_loop(data, epochs: int, batch_size: int, lr: float, seed: int, precision: str,
               **settings):  # fmt: skip
    torch.manual_seed(seed)
    model = build_model("conv-ae", arch="lesson", image_shape=data.image_shape)
    config = TrainConfig(epochs=epochs, batch_size=batch_size, lr=lr, seed=seed,
                         precision=precision, **settings)  # fmt: skip
    result = Trainer(model, config, progress=False).fit(data.train, data.val)
    return model, [row["images_per_s"] for row in result.history], result.precision


def peak_memory_of_cli_run(epochs: int) -> float:
    """Peak RSS in MB of `aekit train` on Fashion-MNIST (the whole process: data, model, loop)."""
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [sys.executable, "-m", "aekit", "train", "conv-ae", "--data", "fashion-mnist",
             "--latent-dim", "16", "--epochs", str(epochs), "--out", f"{tmp}/run", "--no-progress"],
            check=True, stdout=subprocess.DEVNULL,
        )  # fmt: skip
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    data = load_dataset("fashion-mnist")
    runs = {}
    model, rates = plain_loop(data, args.epochs, args.batch_size, args.lr, args.seed)
    runs["plain PyTorch loop (fp32, DataLoader)"] = (model, rates, "fp32")
    same = {"optimizer": "adam", "schedule": "constant"}
    for precision, settings, label in [
        ("fp32", same, "same optimizer"), ("auto", same, "same optimizer"),
        ("auto", {}, "its defaults: AdamW, cosine"),
    ]:  # fmt: skip
        model, rates, used = aekit_loop(
            data, args.epochs, args.batch_size, args.lr, args.seed, precision, **settings
        )
        runs[f"aekit Trainer ({used}, channels-last, {label})"] = (model, rates, used)

    rows, results = [], {}
    base_rate = base_bce = None
    for name, (model, rates, precision) in runs.items():
        metrics, _ = evaluate_model(model, data.test.images)
        rate = median(rates)
        base_rate = base_rate or rate
        base_bce = base_bce or metrics["bce"]
        results[name] = {
            "images_per_s_median": rate, "images_per_s_per_epoch": rates,
            "speedup": rate / base_rate, "test_bce": metrics["bce"], "test_mse": metrics["mse"],
            "bce_vs_plain": metrics["bce"] / base_bce - 1, "precision": precision,
        }  # fmt: skip
        rows.append([
            name, f"{rate:,.0f}", f"{rate / base_rate:.2f}x", f"{metrics['bce']:.4f}",
            f"{100 * (metrics['bce'] / base_bce - 1):+.2f}%", f"{metrics['mse']:.4f}",
        ])  # fmt: skip
    print(f"\nlesson conv-ae on Fashion-MNIST, batch {args.batch_size}, {args.epochs} epochs, "
          f"lr {args.lr}")  # fmt: skip
    print_table(["loop", "images/s (median)", "speed", "test BCE", "vs plain", "test MSE"], rows)

    peak = peak_memory_of_cli_run(epochs=1)
    print(f"\npeak memory of `aekit train conv-ae --data fashion-mnist` (1 epoch): {peak:,.0f} MB")
    path = write_json("throughput", {
        "epochs": args.epochs, "batch_size": args.batch_size, "lr": args.lr, "runs": results,
        "peak_rss_mb_cli_train": peak,
    })  # fmt: skip
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
