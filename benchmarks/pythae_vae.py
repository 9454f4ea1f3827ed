"""pythae's VAE against aekit's conv-vae: the same networks, data, optimizer and epochs.

Both sides train the very same network modules: aekit's default conv-vae is built twice from one
seed (identical initial weights, checked), and pythae's `VAE` gets one copy through a
`BaseEncoder` (conv encoder + Gaussian head -> embedding = mean, log_covariance = log-variance,
pythae's convention and aekit's) and a `BaseDecoder` (dense up-projection + deconvs, then the
sigmoid pythae's BCE needs). The wrappers are checked to compute exactly aekit's `encode` and
`decode`. Both losses are  BCE summed over pixels + KL, averaged over the batch (beta = 1).

Fashion-MNIST from aekit's loader: the same train and validation splits for both, batch B,
E epochs, Adam at a constant learning rate (aekit's defaults, AdamW with a cosine schedule, are
set to that so only the loops differ), and the best epoch on the validation loss kept by each
trainer. aekit runs as `aekit train` does (its Trainer with precision=auto: bf16 autocast where
the CPU has bf16, channels-last; a run directory in a temp dir); pythae as its TrainingPipeline
does (fp32 -- its AMP is CUDA-only and off for BCE anyway --, a DataLoader, its output in a temp
dir). Timed: each trainer's training, validation and saving (wall clock), not data loading or
model building; also the images/s of the training steps alone.

Both trained models are then scored by aekit's importance-sampled NLL (likelihood.py) on the same
dynamically binarized test images: pythae's best weights, as it saved them, are loaded back into
its aekit twin, so one estimator scores both.

    .venv-pythae/bin/python benchmarks/pythae_vae.py [--epochs 10] [--repeats 1] [--quick]

pythae goes into its own venv, `make bench-pythae` (not into aekit's).
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from dataclasses import replace
from importlib.metadata import version
from pathlib import Path

import numpy as np
import torch
from common import median, print_table, write_json
from pythae.models import VAE, VAEConfig
from pythae.models.base.base_utils import ModelOutput
from pythae.models.nn import BaseDecoder, BaseEncoder
from pythae.pipelines import TrainingPipeline
from pythae.trainers import BaseTrainerConfig
from pythae.trainers.training_callbacks import TrainingCallback

from aekit import TrainConfig, Trainer, default_run_config
from aekit.config import to_dict
from aekit.latent.likelihood import importance_nll
from aekit.runs import build_for_data, load_data


class AekitEncoder(BaseEncoder):
    """aekit conv-vae's `encode` as a pythae encoder, holding the same conv and head modules."""

    def __init__(self, model: torch.nn.Module) -> None:
        BaseEncoder.__init__(self)
        self.encoder, self.head = model.encoder, model.head

    def forward(self, x: torch.Tensor) -> ModelOutput:
        posterior = self.head(self.encoder(x))  # DiagonalGaussian: mean, logvar (B, latent)
        return ModelOutput(embedding=posterior.mean, log_covariance=posterior.logvar)


class AekitDecoder(BaseDecoder):
    """aekit conv-vae's `decode` as a pythae decoder: probabilities, which pythae's BCE takes."""

    def __init__(self, model: torch.nn.Module) -> None:
        BaseDecoder.__init__(self)
        self.up, self.decoder, self.map_shape = model.up, model.decoder, model.map_shape

    def forward(self, z: torch.Tensor) -> ModelOutput:
        h = torch.relu(self.up(z)).view(z.shape[0], *self.map_shape)  # (B, C, h, w)
        return ModelOutput(reconstruction=torch.sigmoid(self.decoder(h)))  # (B, 1, 28, 28)


def check_same_function(model, encoder: AekitEncoder, decoder: AekitDecoder) -> None:
    """The wrappers must compute exactly aekit's encode/decode (they drift if ConvVAE changes)."""
    model.eval()
    with torch.no_grad():
        x = torch.rand(4, *model.config.image_shape, generator=torch.Generator().manual_seed(0))
        posterior, out = model.encode(x), encoder(x)
        same = (
            torch.equal(out.embedding, posterior.mean)
            and torch.equal(out.log_covariance, posterior.logvar)
            and torch.equal(decoder(posterior.mean).reconstruction, model.decode(posterior.mean))
        )
    model.train()
    if not same:
        raise SystemExit("the pythae wrappers no longer match ConvVAE.encode/decode; update them")


def twin_models(run_config, image_shape, seed: int):
    """Two conv-vae models built from the same seed, checked to hold identical weights."""
    models = []
    for _ in range(2):
        torch.manual_seed(seed)
        models.append(build_for_data(run_config, image_shape)[0])
    a, b = (m.state_dict() for m in models)
    if a.keys() != b.keys() or not all(torch.equal(a[k], b[k]) for k in a):
        raise SystemExit("two conv-vae models built from one seed differ; cannot compare")
    return models


def train_aekit(model, run_config, dataset, out_dir: Path) -> dict:
    """`aekit train conv-vae` minus the data loading: its Trainer writing a run directory."""
    config = replace(run_config, model=to_dict(model.config))
    trainer = Trainer(model, config.train, out_dir=out_dir, progress=False, run_config=config)
    started = time.perf_counter()
    result = trainer.fit(dataset.train, dataset.val)
    seconds = time.perf_counter() - started
    rates = [row["images_per_s"] for row in result.history]
    return {"seconds": seconds, "step_images_per_s": rates, "precision": result.precision}


class EpochTimer(TrainingCallback):
    """Wall clock of pythae's train() (from after its setup to after its final save), and of
    each epoch's training steps alone (from the train-step start to the eval start)."""

    def __init__(self) -> None:
        self.begin = self.end = self.step_start = None
        self.step_seconds: list[float] = []

    def on_train_begin(self, training_config, **kwargs) -> None:
        self.begin = time.perf_counter()

    def on_train_step_begin(self, training_config, **kwargs) -> None:
        self.step_start = time.perf_counter()

    def stop_steps(self) -> None:
        if self.step_start is not None:
            self.step_seconds.append(time.perf_counter() - self.step_start)
            self.step_start = None

    def on_eval_step_begin(self, training_config, **kwargs) -> None:
        self.stop_steps()

    def on_epoch_end(self, training_config, **kwargs) -> None:
        self.stop_steps()  # no eval set: the epoch's steps end here

    def on_train_end(self, training_config, **kwargs) -> None:
        self.end = time.perf_counter()


def as_float(images_u8: np.ndarray) -> np.ndarray:
    return images_u8.astype(np.float32) / 255.0  # (N, 1, 28, 28) in [0, 1], as pythae takes it


def train_pythae(model, train: TrainConfig, dataset, out_dir: Path) -> dict:
    """pythae's VAE around `model`'s modules, trained by its pipeline; `model` then holds the
    weights pythae saved as its final model (its best epoch on the eval set)."""
    encoder, decoder = AekitEncoder(model), AekitDecoder(model)
    check_same_function(model, encoder, decoder)
    vae_config = VAEConfig(
        input_dim=tuple(model.config.image_shape), latent_dim=model.config.latent_dim,
        reconstruction_loss="bce",
    )  # fmt: skip
    vae = VAE(vae_config, encoder=encoder, decoder=decoder)
    trainer_config = BaseTrainerConfig(
        output_dir=str(out_dir), num_epochs=train.epochs,
        per_device_train_batch_size=train.batch_size,
        per_device_eval_batch_size=1024,  # what aekit's validation uses
        learning_rate=train.lr, optimizer_cls="Adam", scheduler_cls=None, seed=train.seed,
    )  # fmt: skip
    train_x, val_x = as_float(dataset.train.images), as_float(dataset.val.images)
    timer = EpochTimer()
    pipeline = TrainingPipeline(model=vae, training_config=trainer_config)
    pipeline(train_data=train_x, eval_data=val_x, callbacks=[timer])
    saved = Path(pipeline.trainer.training_dir) / "final_model" / "model.pt"
    vae.load_state_dict(torch.load(saved, weights_only=True)["model_state_dict"])
    n = train_x.shape[0]
    return {
        "seconds": timer.end - timer.begin,
        "step_images_per_s": [round(n / s, 1) for s in timer.step_seconds],
        "precision": "fp32",
    }


def quiet_pythae() -> None:
    """pythae sets each of its loggers to INFO; keep its warnings, drop the chatter."""
    for name in list(logging.root.manager.loggerDict):
        if name.startswith("pythae"):
            logging.getLogger(name).setLevel(logging.WARNING)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=TrainConfig.batch_size)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--latent-dim", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=1, help="medians over this many runs")
    parser.add_argument("--nll-samples", type=int, default=1000, help="importance samples K")
    parser.add_argument("--nll-limit", type=int, default=1000, help="test images scored")
    parser.add_argument("--limit", type=int, default=None, help="training images (all)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke test: 1 epoch, 2048 images, K=20, 128 tests; writes pythae_vae_quick.json",
    )
    args = parser.parse_args()
    if args.quick:
        args.epochs, args.limit, args.nll_samples, args.nll_limit = 1, 2048, 20, 128
    quiet_pythae()

    run_config = default_run_config("conv-vae")
    run_config = replace(
        run_config,
        model={**run_config.model, "latent_dim": args.latent_dim},
        data=replace(run_config.data, name="fashion-mnist", limit=args.limit),
    )
    dataset = load_data(run_config)
    test = dataset.test.images[: args.nll_limit]

    sides = {"aekit": [], "pythae": []}
    for repeat in range(args.repeats):
        seed = args.seed + repeat
        train = TrainConfig(
            epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, optimizer="adam",
            schedule="constant", seed=seed,
        )  # fmt: skip
        config = replace(run_config, train=train)
        models = dict(zip(sides, twin_models(config, dataset.image_shape, seed), strict=True))
        order = list(sides) if repeat % 2 == 0 else list(sides)[::-1]  # spread machine drift
        for side in order:
            with tempfile.TemporaryDirectory() as tmp:
                if side == "aekit":
                    run = train_aekit(models[side], config, dataset, Path(tmp) / "run")
                else:
                    run = train_pythae(models[side], train, dataset, Path(tmp))
            run.update(importance_nll(models[side], test, args.nll_samples))
            run["seed"] = seed
            sides[side].append(run)
            print(f"repeat {repeat + 1}/{args.repeats} {side}: {run['seconds']:.1f} s, "
                  f"NLL {run['nll']:.2f}, -ELBO {run['neg_elbo']:.2f}", flush=True)  # fmt: skip

    summary = {}
    for side, runs in sides.items():
        summary[side] = {
            "seconds_median": median([r["seconds"] for r in runs]),
            "step_images_per_s_median": median([x for r in runs for x in r["step_images_per_s"]]),
            "nll_median": median([r["nll"] for r in runs]),
            "neg_elbo_median": median([r["neg_elbo"] for r in runs]),
            "precision": runs[0]["precision"],
            "runs": runs,
        }
    ours, theirs = summary["aekit"], summary["pythae"]
    speedup = theirs["seconds_median"] / ours["seconds_median"]
    step_speedup = ours["step_images_per_s_median"] / theirs["step_images_per_s_median"]
    nll_gap = ours["nll_median"] - theirs["nll_median"]

    labels = {
        "aekit": f"aekit Trainer ({ours['precision']}, channels-last)",
        "pythae": f"pythae {version('pythae')} TrainingPipeline (fp32, DataLoader)",
    }
    rows = [
        [
            labels[side], f"{s['seconds_median']:.1f}", f"{s['step_images_per_s_median']:,.0f}",
            f"{theirs['seconds_median'] / s['seconds_median']:.2f}x",
            f"{s['nll_median']:.2f}", f"{s['neg_elbo_median']:.2f}",
        ]
        for side, s in summary.items()
    ]  # fmt: skip
    n_train = len(dataset.train)
    print(
        f"\nconv-vae (latent {args.latent_dim}) on Fashion-MNIST ({n_train} training images), "
        f"batch {args.batch_size}, {args.epochs} epochs, Adam lr {args.lr:g} constant; "
        f"medians of {args.repeats}; NLL on {len(test)} test images, K={args.nll_samples}"
    )
    print_table(
        ["trainer", "training s", "images/s (steps)", "speed", "test NLL", "test -ELBO"], rows
    )
    print(f"aekit trains {speedup:.2f}x faster (wall clock; {step_speedup:.2f}x in training-step "
          f"images/s), goal >= 3x: {'met' if speedup >= 3 else 'NOT met'}")  # fmt: skip
    print(f"aekit's test NLL - pythae's: {nll_gap:+.2f} nats, goal <= 0: "
          f"{'met' if nll_gap <= 0 else 'NOT met'}")  # fmt: skip

    name = "pythae_vae_quick" if args.quick else "pythae_vae"  # never over a real result
    path = write_json(name, {
        "versions": {"pythae": version("pythae"), "torch": torch.__version__,
                     "aekit": version("aekit")},
        "settings": {
            "epochs": args.epochs, "batch_size": args.batch_size, "lr": args.lr,
            "optimizer": "Adam", "schedule": "constant", "latent_dim": args.latent_dim,
            "train_images": n_train, "val_images": len(dataset.val), "nll_images": len(test),
            "nll_samples": args.nll_samples, "repeats": args.repeats, "seed": args.seed,
            "quick": args.quick,
        },
        "speedup_wall_clock": speedup, "speedup_step_images_per_s": step_speedup,
        "nll_aekit_minus_pythae": nll_gap, "aekit": ours, "pythae": theirs,
    })  # fmt: skip
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
