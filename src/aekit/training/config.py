"""Training settings, owned by the trainer (kept free of torch so configs load fast)."""

from __future__ import annotations

from dataclasses import dataclass

from aekit.errors import AekitError

OPTIMIZERS = ("adamw", "adam", "rmsprop", "sgd")
SCHEDULES = ("constant", "cosine")
PRECISIONS = ("auto", "fp32", "bf16")


@dataclass
class TrainConfig:
    epochs: int = 10
    batch_size: int = 256  # 128 and 512 run about as fast here (PERFORMANCE-NOTES.md)
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
            (self.epochs >= 1, "epochs must be >= 1"),
            (self.batch_size >= 1, "batch_size must be >= 1"),
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
