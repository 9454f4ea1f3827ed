"""Does a cvae's label decide the class of what it draws? beta and latent size compared.

For each setting a `cvae` trains on Fashion-MNIST through `aekit.train_run`; a classifier trained
on real images (logistic regression on pixels) then labels
* 100 prior samples per label, decoded at z = 0 and at z ~ N(0, I);
* 1,000 test images encoded with their own label and decoded with the next one ("swap"): does
  the output follow the new label, or keep the class the code carried?

    python benchmarks/cvae_label.py [--epochs 4]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import torch
from common import print_table, write_json
from generative import classifier, train

from aekit.runs import load_data

SETTINGS = {
    "latent 8, beta 1": {"latent_dim": 8},
    "latent 8, beta 4": {"latent_dim": 8, "beta": 4.0},
    "latent 2, beta 1": {"latent_dim": 2},
}


@torch.no_grad()
def label_scores(model, clf, test) -> dict[str, float]:
    labels = torch.arange(10).repeat_interleave(100)
    scores = {}
    for name, scale in (("z = 0", 0.0), ("z ~ N(0, I)", 1.0)):
        z = torch.randn(1000, model.config.latent_dim, generator=torch.Generator().manual_seed(0))
        images = model.decode(z * scale, labels)
        scores[name] = float(
            (clf.predict(images.reshape(1000, -1).numpy()) == labels.numpy()).mean()
        )
    x = torch.from_numpy(test.images[:1000]).float() / 255
    y = torch.from_numpy(test.labels[:1000]).long()
    other = (y + 1) % 10
    predicted = clf.predict(model.decode(model.encode(x, y).mean, other).reshape(1000, -1).numpy())
    scores["swap follows new label"] = float((predicted == other.numpy()).mean())
    scores["swap keeps old class"] = float((predicted == y.numpy()).mean())
    return scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=4)
    args = parser.parse_args()
    results: dict = {"epochs": args.epochs, "settings": {}}
    clf = test = None
    with tempfile.TemporaryDirectory() as tmp:
        for i, (name, fields) in enumerate(SETTINGS.items()):
            run, seconds = train("cvae", args.epochs, Path(tmp) / str(i), **fields)
            if clf is None:
                dataset = load_data(run.config)
                clf, test = classifier(dataset, 10_000), dataset.test
            results["settings"][name] = {"train_s": seconds, **label_scores(run.model, clf, test)}
    columns = list(next(iter(results["settings"].values())))[1:]
    print_table(
        ["cvae", *columns],
        [[k, *(f"{r[c]:.1%}" for c in columns)] for k, r in results["settings"].items()],
    )
    print(f"wrote {write_json('cvae_label', results)}")


if __name__ == "__main__":
    main()
