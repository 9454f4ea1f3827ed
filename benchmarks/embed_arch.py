"""Which default conv-ae for embeddings: candidate networks at a 16-number code, side by side.

Issue 14 asks the default conv-ae at `latent_dim=16` for <= 0.45x PCA(16)'s test MSE on
Fashion-MNIST in 10 epochs, 5-NN accuracy on the codes above PCA's, and at most 1.5x today's
training time. This trains each candidate from the same seed on the same rows, one torch
thread, one after another, and prints test MSE, its ratio to PCA(16), 5-NN accuracy on the codes
(classifier fitted on training codes), parameters and training images/s.

Candidates (each a small, cited change to today's stride-2 conv + BatchNorm network):

* ``default``: build_model("conv-ae") as src/ has it now (the chosen candidate).
* ``today``: the default before issue 14 (channels 16-32-64, ReLU, linear dense bottleneck),
  rebuilt here so it can stand beside the new one.
* ``res``: one residual block (two 3x3 convs, He et al. 2016, https://arxiv.org/abs/1512.03385)
  after each down level and before each up level below the first, as in the VQ-VAE and
  Stable Diffusion autoencoders (van den Oord et al. 2017, https://arxiv.org/abs/1711.00937).
* ``res-dec``: residual blocks in the decoder only (its job, drawing 784 pixels from 16
  numbers, is the harder one).
* ``mlp``: a hidden layer of 256 in the dense bottleneck on each side (a nonlinear code).
* ``silu``: SiLU instead of ReLU (Hendrycks & Gimpel 2016, https://arxiv.org/abs/1606.08415).
* ``lr4``: today's network at lr 4e-3.
* ``mse``: today's network trained on MSE instead of per-pixel BCE (the metric it is scored
  on; BCE treats gray pixels as Bernoulli probabilities, the lesson's choice).
* ``silu-wide``: SiLU, and the two lower levels 1.5x wider (16-48-96): the 28x28 and 14x14
  layers that cost the most time keep their width.
* combinations of the above.

    python benchmarks/embed_arch.py [--epochs 3] [--limit 20000] [--only today,res] [--tag T]
    python benchmarks/embed_arch.py --speed-rounds 3 --only today,res     # speed alone
"""

from __future__ import annotations

import argparse
import math
import time

import torch
from common import print_table, write_json
from torch import nn

from aekit import PCA, TrainConfig, Trainer, build_model, load_dataset
from aekit.evaluation.evaluate import evaluate_model
from aekit.inference import embed
from aekit.latent.embedding import knn_accuracy
from aekit.models import conv_ae

LATENT = 16
CANDIDATES = {
    "default": {"builtin": True},  # build_model's default conv-ae, as the code now has it
    "today": {},  # the default before issue 14, rebuilt here
    "res": {"res": "both"},
    "res-dec": {"res": "decoder"},
    "mlp": {"mlp": 256},
    "silu": {"act": "silu"},
    "lr4": {"lr": 4e-3},
    "mse": {"loss": "mse"},
    "silu-wide": {"act": "silu", "widths": (16, 48, 96)},
    "res-dec+mlp": {"res": "decoder", "mlp": 256},
    "res+mlp": {"res": "both", "mlp": 256},
}


class ResBlock(nn.Module):
    def __init__(self, width: int, act) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(width, width, 3, padding=1), nn.BatchNorm2d(width), act(),
            nn.Conv2d(width, width, 3, padding=1), nn.BatchNorm2d(width),
        )  # fmt: skip
        self.act = act()

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.act(h + self.body(h))


class MLPBottleneck(nn.Module):
    def __init__(self, map_shape, latent: int, hidden: int | None, act) -> None:
        super().__init__()
        self.map_shape = map_shape
        n = math.prod(map_shape)
        if hidden is None:
            self.down, self.up = nn.Linear(n, latent), nn.Sequential(nn.Linear(latent, n), act())
        else:
            self.down = nn.Sequential(nn.Linear(n, hidden), act(), nn.Linear(hidden, latent))
            self.up = nn.Sequential(
                nn.Linear(latent, hidden), act(), nn.Linear(hidden, n), act()
            )  # fmt: skip

    def encode(self, h):
        return self.down(h.flatten(1))

    def decode(self, z):
        return self.up(z).view(z.shape[0], *self.map_shape)


def candidate_model(image_shape, options: dict):
    """Today's conv-ae, its networks rebuilt with the candidate's changes."""
    loss = {"loss": options["loss"]} if "loss" in options else {}
    model = build_model("conv-ae", image_shape=image_shape, latent_dim=LATENT, **loss)
    if options.get("builtin"):  # aekit's default as it stands in src/
        return model
    act = nn.SiLU if options.get("act") == "silu" else nn.ReLU
    widths = options.get("widths", (16, 32, 64))
    c, h, w = image_shape
    sizes = [(h, w)]
    enc: list[nn.Module] = []
    c_in = c
    res = options.get("res")
    for i, width in enumerate(widths):
        enc += [conv_ae.conv(c_in, width, stride=2), nn.BatchNorm2d(width), act()]
        sizes.append(conv_ae.halve(sizes[-1]))
        if res == "both" and i > 0:
            enc.append(ResBlock(width, act))
        c_in = width
    dec: list[nn.Module] = []
    for i in reversed(range(len(widths))):
        if res in ("both", "decoder") and i > 0:
            dec.append(ResBlock(widths[i], act))
        out = widths[max(i - 1, 0)]
        dec += [nn.ConvTranspose2d(widths[i], out, 4, 2, 1), conv_ae.CropTo(sizes[i]),
                nn.BatchNorm2d(out), act()]  # fmt: skip
    dec.append(conv_ae.conv(widths[0], c))
    model.encoder, model.decoder = nn.Sequential(*enc), nn.Sequential(*dec)
    model.bottleneck = MLPBottleneck((widths[-1], *sizes[-1]), LATENT, options.get("mlp"), act)
    return model


def run(name: str, options: dict, data, pca_mse: float, pca_knn: float, args) -> dict:
    torch.manual_seed(args.seed)
    model = candidate_model(data.image_shape, options)
    config = TrainConfig(epochs=args.epochs, seed=args.seed, lr=options.get("lr", 2e-3))
    started = time.perf_counter()

    def tell(row, model):  # a long run says how far it is
        print(f"{name}: epoch {row['epoch']}, {time.perf_counter() - started:.0f} s", flush=True)

    result = Trainer(model, config, progress=False, callbacks=[tell]).fit(data.train, data.val)
    wall = time.perf_counter() - started
    metrics, _ = evaluate_model(model, data.test.images)
    codes = [embed(model, split.images) for split in (data.train, data.test)]
    knn = knn_accuracy(codes[0], data.train.labels, codes[1], data.test.labels)
    row = {
        "name": name, "options": options, "test_mse": metrics["mse"],
        "ratio": metrics["mse"] / pca_mse, "knn": knn, "knn_pca": pca_knn, "wall_s": wall,
        "images_per_s": sum(len(data.train) for _ in result.history) / wall,
        "parameters": sum(p.numel() for p in model.parameters()),
    }  # fmt: skip
    print(f"{name}: MSE {metrics['mse']:.5f} ({row['ratio']:.3f}x PCA), 5-NN {knn:.4f}, "
          f"{wall:.0f} s", flush=True)  # fmt: skip
    return row


SPEED_BATCHES = 20


def speed(names: list[str], data, args) -> None:
    """Training images/s of each candidate, timed in turn for SPEED_BATCHES batches per round;
    the median over rounds, and its ratio to today's."""
    rows = data.train.subset(range(256 * SPEED_BATCHES))
    rates: dict[str, list[float]] = {n: [] for n in names}
    for _ in range(args.speed_rounds):
        for name in names:
            torch.manual_seed(args.seed)
            model = candidate_model(data.image_shape, CANDIDATES[name])
            config = TrainConfig(epochs=1, batch_size=256, seed=args.seed)
            started = time.perf_counter()
            Trainer(model, config, progress=False).fit(rows)
            rates[name].append(len(rows) / (time.perf_counter() - started))
    median = {n: sorted(r)[len(r) // 2] for n, r in rates.items()}
    base = median.get("today")
    print_table(["candidate", "img/s (median)", "time vs today"], [
        [n, f"{median[n]:,.0f}", f"{base / median[n]:.2f}" if base else ""] for n in names
    ])  # fmt: skip
    path = write_json(f"embed_arch_speed{args.tag}", {
        "rounds": args.speed_rounds, "batches": SPEED_BATCHES, "threads": args.threads,
        "images_per_s": rates, "median": median,
    })  # fmt: skip
    print(f"wrote {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--limit", type=int, default=20000, help="training images; 0: all")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--only", help="comma-separated candidate names")
    parser.add_argument("--tag", default="", help="suffix of the JSON file's name")
    parser.add_argument(
        "--speed-rounds", type=int, default=0,
        help="only time SPEED_BATCHES training batches of each candidate in turn, this many "
        "rounds (the same load for each, unlike runs at different times)",
    )  # fmt: skip
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    names = args.only.split(",") if args.only else list(CANDIDATES)
    limit = None if args.limit == 0 else args.limit

    data = load_dataset("fashion-mnist", limit=limit)
    if args.speed_rounds:
        speed(names, data, args)
        return
    pca = PCA(LATENT).fit(data.train.images)
    _, base = evaluate_model(
        build_model("conv-ae", image_shape=data.image_shape, latent_dim=LATENT),
        data.test.images,
        baselines={"pca": pca.reconstruct},
    )
    pca_codes = [pca.encode(s.images).numpy() for s in (data.train, data.test)]
    pca_knn = knn_accuracy(pca_codes[0], data.train.labels, pca_codes[1], data.test.labels)
    pca_mse = base["pca"]["mse"]
    rows = [run(n, CANDIDATES[n], data, pca_mse, pca_knn, args) for n in names]

    today = next((r for r in rows if r["name"] == "today"), None)
    table = [
        [r["name"], f"{r['test_mse']:.5f}", f"{r['ratio']:.3f}", f"{r['knn']:.4f}",
         f"{r['parameters']:,}", f"{r['images_per_s']:,.0f}",
         f"{r['wall_s'] / today['wall_s']:.2f}" if today else ""]
        for r in rows
    ]  # fmt: skip
    print(f"\nFashion-MNIST (limit {args.limit}), {args.epochs} epochs, latent {LATENT}, "
          f"{args.threads} thread(s); PCA(16) test MSE {pca_mse:.5f}, "
          f"5-NN {pca_knn:.4f}")  # fmt: skip
    print_table(["candidate", "test MSE", "vs PCA(16)", "5-NN", "params", "img/s",
                 "time vs today"], table)  # fmt: skip
    path = write_json(f"embed_arch{args.tag}", {
        "epochs": args.epochs, "limit": args.limit, "seed": args.seed, "threads": args.threads,
        "pca_mse": pca_mse, "pca_knn": pca_knn, "runs": rows,
    })  # fmt: skip
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
