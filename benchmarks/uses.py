"""The four uses of an autoencoder on Fashion-MNIST, each beside its classical baseline.

Each use trains its default model, as `aekit train` would (issue 14's defaults):

* denoising, blind (Gaussian noise of a std drawn per image from 0.05-0.5): conv-ae's `unet`
  arch (the task's default network), scored at std 0.1, 0.2, 0.3 and 0.5 beside the best of
  Gaussian blur, median, total variation and non-local means tuned *at each level* on
  validation images; and on the lesson's mean-0.5 noise (std 0.3), trained at that noise;
* super-resolution x2 and x4, blind (a random downscaling kernel per image): `sr`'s `residual`
  arch, scored per kernel (area, bilinear, bicubic, blur and Pillow's Lanczos, never trained
  on) beside bicubic and bilinear upsampling of the same input;
* embeddings at dimension 16: conv-ae codes against PCA(16) codes (5-NN accuracy, a linear
  probe, reconstruction MSE), classifiers fitted on the training split, scored on test.

Every model trains through `aekit.train_run` with the training time reported.

    python benchmarks/uses.py [--epochs 10] [--test-images 2000] [--threads N]

Writes benchmarks/results/uses.json.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch
from common import print_table, write_json

from aekit import RunConfig, TrainConfig, default_run_config, load_run, train_run
from aekit.config import DataConfig
from aekit.evaluation.evaluate import evaluate_on
from aekit.inference import embed
from aekit.latent.embedding import embedding_report
from aekit.latent.pca import PCA
from aekit.modalities.images.tasks import TaskConfig, build_task
from aekit.models import spec_of
from aekit.runs import load_data


def train(model: str, task: TaskConfig, epochs: int, work: Path, data: DataConfig,
          **model_fields) -> tuple:  # fmt: skip
    base = default_run_config(model)
    config = RunConfig(
        model_name=model, model={**base.model, **model_fields}, task=task, data=data,
        train=TrainConfig(epochs=epochs), aekit_version=base.aekit_version,
    )  # fmt: skip
    out = work / f"{model}-{task.name}-{task.noise.replace(':', '')}-{task.scale}"
    started = time.perf_counter()
    train_run(config, out, progress=False)
    seconds = time.perf_counter() - started
    return load_run(out), seconds


def restoration(run, dataset, limit: int | None) -> dict:
    report = evaluate_on(run.model, run.config.model_name, dataset, "test",
                         build_task(run.config.task), limit=limit)  # fmt: skip
    return {"model": report.metrics, "baselines": report.baselines, "notes": report.notes,
            "more": report.more}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--test-images", type=int, default=2000)
    parser.add_argument("--limit", type=int, default=None, help="training images (smoke runs)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: all)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    data = DataConfig(limit=args.limit)  # fashion-mnist, the default split
    dataset = load_data(RunConfig(data=data))
    results: dict = {"epochs": args.epochs, "test_images": args.test_images}
    rows = []
    levels, kernels = [], []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        # The denoise task's own network (ModelSpec.task_presets, as `aekit train` picks it).
        denoiser = dict(spec_of("conv-ae").task_presets["denoise"])
        denoiser = {k.split(".", 1)[1]: v for k, v in denoiser.items()}
        for noise in ("gaussian:0.05-0.5", "lesson:0.3"):
            task = TaskConfig("denoise", noise=noise)
            run, seconds = train("conv-ae", task, args.epochs, work, data, **denoiser)
            r = restoration(run, dataset, args.test_images)
            classical = {k: v for k, v in r["baselines"].items() if not k.startswith("PCA")}
            ((best_name, best),) = classical.items()
            gain = r["model"]["psnr"] - best["psnr"]
            results[f"denoise {noise}"] = {**r, "train_seconds": seconds, "gain_db": gain}
            rows.append([f"denoise {noise}", f"{r['model']['psnr']:.2f}", best_name,
                         f"{best['psnr']:.2f}", f"{gain:+.2f}", f"{seconds:.0f}"])  # fmt: skip
            for level in (r["more"] or {}).get("rows", []) if noise.startswith("gaussian") else []:
                levels.append([level["noise"], f"{level['model_psnr']:.2f}",
                               f"{level['classical']} {level['classical_psnr']:.2f}",
                               f"{level['gain_db']:+.2f}"])  # fmt: skip
        for scale in (2, 4):
            task = TaskConfig("superres", scale=scale)
            run, seconds = train("sr", task, args.epochs, work, data, scale=scale)
            r = restoration(run, dataset, None)
            bicubic = r["baselines"]["bicubic"]
            gain = r["model"]["psnr"] - bicubic["psnr"]
            results[f"superres x{scale}"] = {**r, "train_seconds": seconds, "gain_db": gain}
            rows.append([f"superres x{scale}", f"{r['model']['psnr']:.2f}", "bicubic",
                         f"{bicubic['psnr']:.2f}", f"{gain:+.2f}", f"{seconds:.0f}"])  # fmt: skip
            for name, k in ((r["more"] or {}).get("kernels") or {}).items():
                kernels.append([f"x{scale}", name + ("" if k["seen"] else " (unseen)"),
                                f"{k['model_psnr']:.2f}", f"{k['bicubic_psnr']:.2f}",
                                f"{k['bilinear_psnr']:.2f}", f"{k['gain_db']:+.2f}"])  # fmt: skip

        run, seconds = train("conv-ae", TaskConfig(), args.epochs, work, data, latent_dim=16)
        train_codes = embed(run.model, dataset.train.images).reshape(len(dataset.train), -1)
        test_codes = embed(run.model, dataset.test.images).reshape(len(dataset.test), -1)
        pca = PCA(16).fit(dataset.train.images)
        pca_train = pca.encode(dataset.train.images).numpy()
        pca_test = pca.encode(dataset.test.images).numpy()
        ours = embedding_report(train_codes, dataset.train.labels, test_codes, dataset.test.labels)
        theirs = embedding_report(pca_train, dataset.train.labels, pca_test, dataset.test.labels)
        recon = restoration(run, dataset, None)
        mse_ratio = recon["model"]["mse"] / recon["baselines"]["PCA(16)"]["mse"]
        results["embeddings 16"] = {
            "conv_ae": vars(ours), "pca": vars(theirs), "mse_ratio": mse_ratio,
            "train_seconds": seconds,
        }  # fmt: skip

    print(f"\nFashion-MNIST test split, {args.epochs} epochs each; PSNR in dB "
          f"(denoising on the first {args.test_images} test images)")  # fmt: skip
    print_table(["use", "aekit", "best classical", "its PSNR", "gain", "train s"], rows)
    print("\nblind denoiser at fixed levels (classical: the best filter tuned at that level)")
    print_table(["noise", "aekit PSNR", "classical PSNR", "gain"], levels)
    print("\nblind super-resolution per downscaling kernel")
    print_table(["scale", "kernel", "aekit PSNR", "bicubic", "bilinear", "gain"], kernels)
    print("\nembeddings at dimension 16 (classifiers fitted on train, scored on test)")
    print_table(["codes", "5-NN accuracy", "linear probe", "reconstruction MSE ratio"], [
        ["conv-ae (latent 16)", f"{ours.knn_accuracy:.4f}", f"{ours.probe_accuracy:.4f}",
         f"{mse_ratio:.3f} x PCA"],
        ["PCA(16)", f"{theirs.knn_accuracy:.4f}", f"{theirs.probe_accuracy:.4f}", "1"],
    ])  # fmt: skip
    print(f"wrote {write_json('uses', results)}")


if __name__ == "__main__":
    main()
