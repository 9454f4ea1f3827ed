"""The generative models on Fashion-MNIST: pictures for the README and numbers for the note.

* `vae` at latent 2: test NLL (importance-sampled) and -ELBO, the 15x15 manifold and the latent
  scatter coloured by class (docs/images/);
* `cvae` at latent 8: does `sample --label k` draw class k? A classifier trained on real images
  (logistic regression on pixels) labels 100 samples per class;
* prior samples of `aae` against a plain `conv-ae` at the same code size, decoding N(0, I) draws
  and (for the conv-ae) draws from a Gaussian fitted to its training codes: the share of samples
  the classifier is confident about (max probability > 0.8) and the spread of classes it sees
  (exp of the entropy of the mean prediction: 10 = every class equally often).

Every model trains through `aekit.train_run`, exactly as `aekit train` would.

    python benchmarks/generative.py [--epochs 10] [--nll-samples 1000] [--nll-images 1000]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from common import print_table, write_json
from sklearn.linear_model import LogisticRegression

from aekit import RunConfig, TrainConfig, default_run_config, load_run, train_run
from aekit.inference import embed
from aekit.latent.generation import decode_codes, fit_codes, manifold_codes, sample_codes
from aekit.latent.likelihood import importance_nll
from aekit.reports.plots import save_grid, save_scatter
from aekit.runs import load_data

IMAGES = Path(__file__).resolve().parent.parent / "docs" / "images"


def train(model: str, epochs: int, work: Path, **model_fields):
    base = default_run_config(model)
    config = RunConfig(
        model_name=model,
        model={**base.model, **model_fields},
        data=base.data,
        train=TrainConfig(epochs=epochs),
        aekit_version=base.aekit_version,
    )
    started = time.perf_counter()
    train_run(config, work / model, progress=False)
    return load_run(work / model), time.perf_counter() - started


def classifier(dataset, n: int = 20_000) -> LogisticRegression:
    x = dataset.train.images[:n].reshape(n, -1) / 255.0
    return LogisticRegression(max_iter=300).fit(x, dataset.train.labels[:n])


def judge(clf: LogisticRegression, images: torch.Tensor) -> dict[str, float]:
    p = clf.predict_proba(images.reshape(images.shape[0], -1).numpy())
    mean = p.mean(0)
    return {
        "confident": float((p.max(1) > 0.8).mean()),
        "class_spread": float(np.exp(-(mean * np.log(mean + 1e-12)).sum())),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--nll-samples", type=int, default=1000)
    parser.add_argument("--nll-images", type=int, default=1000)
    args = parser.parse_args()
    IMAGES.mkdir(parents=True, exist_ok=True)
    results: dict = {"epochs": args.epochs}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        vae, vae_s = train("vae", args.epochs, work, latent_dim=2)
        dataset = load_data(vae.config)
        test = dataset.test
        started = time.perf_counter()
        nll = importance_nll(vae.model, test.images[: args.nll_images], args.nll_samples)
        results["vae2"] = {"train_s": vae_s, **nll, "nll_s": time.perf_counter() - started}
        save_grid(
            IMAGES / "vae2-manifold.png",
            decode_codes(vae.model, manifold_codes(15, 2, (0, 1))).numpy(),
            ncols=15,
        )
        codes = embed(vae.model, test.images[:5000])
        save_scatter(
            IMAGES / "vae2-scatter.png",
            codes,
            test.labels[:5000],
            dataset.classes,
            "vae (latent 2) posterior means of 5,000 Fashion-MNIST test images",
        )

        clf = classifier(dataset)
        real = torch.from_numpy(test.images[:2000]).float() / 255.0
        results["classifier_test_accuracy"] = float(
            (clf.predict(real.reshape(2000, -1).numpy()) == test.labels[:2000]).mean()
        )
        cvae, cvae_s = train("cvae", args.epochs, work, latent_dim=8)
        generator = torch.Generator().manual_seed(0)
        labels = torch.arange(10).repeat_interleave(100)
        samples = cvae.model.sample(1000, labels, generator=generator)
        predicted = clf.predict(samples.reshape(1000, -1).numpy())
        per_class = [(predicted[labels == k] == k).mean() for k in range(10)]
        results["cvae8"] = {
            "train_s": cvae_s,
            "label_accuracy": float((predicted == labels.numpy()).mean()),
            "per_class": dict(zip(dataset.classes, map(float, per_class), strict=True)),
        }
        save_grid(
            IMAGES / "cvae8-samples.png",
            samples.view(10, 100, 1, 28, 28)[:, :10].reshape(100, 1, 28, 28).numpy(),
            ncols=10,
        )

        aae, aae_s = train("aae", args.epochs, work, latent_dim=8)
        ae, ae_s = train("conv-ae", args.epochs, work, latent_dim=8)
        prior = {}
        aae_samples = aae.model.sample(1000, generator=torch.Generator().manual_seed(0))
        prior["aae, N(0, I)"] = {"train_s": aae_s, **judge(clf, aae_samples)}
        gaussian = torch.randn(1000, 8, generator=torch.Generator().manual_seed(0))
        prior["conv-ae, N(0, I)"] = {
            "train_s": ae_s,
            **judge(clf, decode_codes(ae.model, gaussian)),
        }
        fitted = fit_codes(ae.model, dataset.train.images)
        ae_fitted = decode_codes(ae.model, sample_codes(fitted, 1000, generator))
        prior["conv-ae, fitted Gaussian"] = {"train_s": ae_s, **judge(clf, ae_fitted)}
        prior["real test images"] = judge(clf, real[:1000])
        results["prior_samples"] = prior
        save_grid(IMAGES / "aae8-samples.png", aae_samples[:64].numpy(), ncols=8)
        save_grid(
            IMAGES / "conv-ae8-prior-samples.png",
            decode_codes(ae.model, gaussian[:64]).numpy(),
            ncols=8,
        )

    v = results["vae2"]
    print(
        f"vae latent 2, {args.epochs} epochs ({v['train_s']:.0f} s): test NLL {v['nll']:.1f} "
        f"nats, -ELBO {v['neg_elbo']:.1f} (K={v['k']}, {args.nll_images} images)"
    )
    c = results["cvae8"]
    print(
        f"cvae latent 8: samples drawn with label k classified as k: "
        f"{c['label_accuracy']:.1%} (classifier on real test images: "
        f"{results['classifier_test_accuracy']:.1%})"
    )
    print_table(
        ["prior samples", "confident", "class spread (of 10)"],
        [[k, f"{r['confident']:.1%}", f"{r['class_spread']:.2f}"] for k, r in prior.items()],
    )
    print(f"wrote {write_json('generative', results)} and pictures in {IMAGES}")


if __name__ == "__main__":
    main()
