"""Training settings, owned by the trainer (kept free of torch so configs load fast)."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from aekit.errors import AekitError

OPTIMIZERS = ("adamw", "adam", "rmsprop", "sgd")
SCHEDULES = ("constant", "cosine")
PRECISIONS = ("auto", "fp32", "bf16")

# What an unset epochs/batch_size resolves to (`TrainConfig.resolved`), so a small set learns as
# well as a big one does with the same defaults. On Fashion-MNIST (54,000 training images) they
# give today's 10 epochs of 210 batches of 256 exactly; on a set of 1,294 (digits) 10 epochs of
# 256 were 50 optimizer steps and left the autoencoder far behind PCA (issue 14).
DEFAULT_EPOCHS = 10  # the fewest epochs an unset train.epochs gives
MAX_BATCH = 256  # 128 and 512 run about as fast here (PERFORMANCE-NOTES.md)
MIN_BATCH = 8  # BatchNorm's statistics need a few rows; smaller sets take the whole set
BATCH_FRACTION = 8  # an unset batch is at most 1/8 of the training split: 8+ steps per epoch
# An unset train.epochs trains at least MIN_STEPS optimizer steps (benchmarks/first_run.py: the
# README's digits example, conv-ae latent 8, reaches 0.53x PCA(8)'s test MSE in 460 steps, 0.48x
# in 910 and 0.49x in 2,000, against 7x in its old 15); Fashion-MNIST (2,100 steps) and
# CIFAR-10 (1,750) keep their 10 epochs ...
MIN_STEPS = 1000
MAX_EPOCHS = 300  # ... within this many epochs (each validates and checkpoints)


@dataclass
class TrainConfig:
    # None (unset): chosen from the training split's size when training starts (`resolved`),
    # and written to config.json as numbers, so a resumed run and a report see what ran.
    epochs: int | None = None  # None: DEFAULT_EPOCHS, or more to reach MIN_STEPS steps
    batch_size: int | None = None  # None: MAX_BATCH, or a power of two <= 1/8 of the split
    lr: float = 2e-3  # AdamW; the cosine schedule takes it down to 5% by the last step
    weight_decay: float = 0.0  # small nets on small images overfit little; decay only slows them
    optimizer: str = "adamw"  # adamw | adam | rmsprop (the lesson's VAE) | sgd
    schedule: str = "cosine"  # constant | cosine (per step, no restarts)
    precision: str = "auto"  # auto = bf16 autocast where the device runs bf16 natively, else fp32
    channels_last: bool = True  # NHWC convolutions: about 2x faster on this CPU in fp32 and bf16
    patience: int | None = None  # stop after this many epochs without a better validation loss
    grad_clip: float | None = None  # max global gradient norm; None = no clipping
    seed: int = 0  # drives batch order, the model's initial weights and every random draw
    # Also save checkpoint.safetensors every this many steps (counted over the run), so a kill
    # loses at most that many; None = at epoch ends only. Each save writes the weights and
    # optimizer state (about 3x the model's size), so every few hundred steps costs little.
    checkpoint_every: int | None = None
    # Read the loss back to Python every this many steps (and always before a checkpoint and at
    # an epoch's end), checking each step's loss in order then. None = every step for one
    # process on a CPU, where a read costs nothing; every 10 on a GPU, where each read makes the
    # CPU wait for the queued kernels, and with several processes, where each read is a
    # collective every rank waits at. Changes no number, only how soon a divergence (or a
    # Ctrl-C, with several processes) is acted on.
    log_every: int | None = None
    # torch.compile the model's forward pass (nn.Module.compile: in place, so weights,
    # checkpoints and state_dict keys are unchanged). Off by default: benchmarks/compile.py
    # measures what it buys per model and device, and what the compile costs at the start.
    compile: bool = False

    def __post_init__(self) -> None:
        checks = [
            (self.epochs is None or self.epochs >= 1, "epochs must be >= 1"),
            (self.batch_size is None or self.batch_size >= 1, "batch_size must be >= 1"),
            (self.lr > 0, "lr must be > 0"),
            (self.weight_decay >= 0, "weight_decay must be >= 0"),
            (self.optimizer in OPTIMIZERS, f"optimizer must be one of {OPTIMIZERS}"),
            (self.schedule in SCHEDULES, f"schedule must be one of {SCHEDULES}"),
            (self.precision in PRECISIONS, f"precision must be one of {PRECISIONS}"),
            (self.patience is None or self.patience >= 1, "patience must be >= 1"),
            (self.grad_clip is None or self.grad_clip > 0, "grad_clip must be > 0"),
            (self.seed >= 0, "seed must be >= 0"),  # numpy's SeedSequence takes no negatives
            (self.checkpoint_every is None or self.checkpoint_every >= 1, "checkpoint_every >= 1"),
            (self.log_every is None or self.log_every >= 1, "log_every must be >= 1"),
        ]
        for ok, message in checks:
            if not ok:
                raise AekitError(f"{message}; got {self}")

    def resolved(self, rows: int, world_size: int = 1) -> TrainConfig:
        """This config with an unset `batch_size` and `epochs` chosen for a training split of
        `rows` rows (`adaptive_batch_size`, `adaptive_epochs`); set ones are kept exactly."""
        batch = self.batch_size or adaptive_batch_size(rows, world_size)
        epochs = self.epochs or adaptive_epochs(rows, batch)
        return replace(self, epochs=epochs, batch_size=batch)


def adaptive_batch_size(rows: int, world_size: int = 1) -> int:
    """MAX_BATCH, halved while it exceeds 1/BATCH_FRACTION of `rows` (down to MIN_BATCH, or
    the whole split when that is smaller), so a small set still takes several steps per epoch;
    a multiple of `world_size`, so every process takes an equal slice."""
    batch = MAX_BATCH
    while batch > MIN_BATCH and batch * BATCH_FRACTION > rows:
        batch //= 2
    batch = max(min(batch, rows), 1)
    return max(batch - batch % world_size, world_size)


def adaptive_epochs(rows: int, batch_size: int) -> int:
    """DEFAULT_EPOCHS, or enough epochs for MIN_STEPS optimizer steps (at most MAX_EPOCHS):
    a step budget, since what a network learns depends on its updates, not on passes."""
    steps_per_epoch = max(rows // batch_size, 1)  # the trainer drops the last partial batch
    return min(max(DEFAULT_EPOCHS, math.ceil(MIN_STEPS / steps_per_epoch)), MAX_EPOCHS)
