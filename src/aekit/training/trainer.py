"""The model-agnostic training loop.

The trainer knows one contract (DESIGN.md): ``out = model(x, y)`` and
``model.loss(out, target).loss.backward()``. Everything else is about doing that fast and
reproducibly on whatever device the runtime names (aekit.runtime: a CPU unless told otherwise):

* the data stays as its dataset stores it (``split.rows``: uint8 arrays, token windows...), on
  the device when it fits (batches.py), and each batch is gathered by index (no DataLoader, no
  per-item Python); an epoch is n // batch_size full batches;
* the task makes ``(inputs, target)`` of the raw batch: ``task(task.prepare(raw, config),
  generator)``; a plain callable without `prepare` (`identity`, a hand-written task) gets the
  default modality's (modalities/base.py `prepared_task`): the trainer never knows what a row is;
* bf16 autocast where the device runs it natively (precision.py), losses in fp32; losses are
  read back to Python only every `train.log_every` steps and before every checkpoint
  (metrics.py), so a GPU is never made to wait for the CPU each step;
* every random draw comes from (seed, epoch): the batch order is a pure function of them, and
  the model's and the task's generators are reseeded per epoch and saved in checkpoints, so a
  resumed run is bitwise the run that was never stopped, whether Ctrl-C or SIGKILL stopped it
  (checkpoint.py keeps the newest good checkpoint on disk at every moment); the device is not
  part of the run, so a run may resume on another device (Runtime.restore_rng_states says
  what carries over);
* a loss, validation loss or weight that turns NaN or infinite stops the run before anything
  non-finite is saved, naming the step (a diverging learning rate ends that way too);
* with several processes (torchrun, runtime/distributed.py) the run is the same run: each
  global batch of `batch_size` rows is cut into equal rank slices after the task has drawn its
  noise for the whole batch (the model's per-row draws, a VAE's noise, are made for the whole
  batch too: runtime.row_draws), gradients and loss sums are all-reduced, a stop seen by one
  rank stops all at the next log point, and rank 0 alone writes the run directory; a resume may
  use another world size (checkpoint.restore_rng says which random stream each rank continues);
* a `tracker` (training/tracking.py; `--log tensorboard`) is handed every step's loss parts and
  every metrics.jsonl row as they are read, by the writer rank alone.
"""

from __future__ import annotations

import logging
import math
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from aekit.config import RunConfig
from aekit.errors import AekitError
from aekit.modalities import Task, identity, prepared_task
from aekit.runtime.runtime import Runtime, cpu_runtime
from aekit.training import checkpoint as ckpt
from aekit.training.batches import DeviceBatches, batch_order, derived_seed
from aekit.training.config import TrainConfig
from aekit.training.faults import StopFlag, divergence, non_finite_weight, stop_on_first_ctrl_c
from aekit.training.metrics import Accumulator, epoch_line, validation_losses
from aekit.training.run_dir import save_training_checkpoint, start_state, write_run_config
from aekit.training.steps import StepContext, build_optimizers, training_step
from aekit.training.tracking import Tracker

__all__ = ["Accumulator", "EpochCallback", "FitResult", "Trainer", "batch_order", "derived_seed"]

log = logging.getLogger(__name__)

# Called after each epoch with its metrics row (which it may extend) and the model, in eval
# mode; used by benchmarks to score test data mid-run. A callback must not draw from torch's
# global RNG, or it would change the rest of the run.
EpochCallback = Callable[[dict[str, Any], torch.nn.Module], None]


def lr_at(step: int, total_steps: int, config: TrainConfig) -> float:
    if config.schedule == "constant":
        return config.lr
    progress = min(step / max(total_steps - 1, 1), 1.0)  # cosine: lr -> 5% of lr at the end
    return config.lr * (0.05 + 0.95 * 0.5 * (1.0 + math.cos(math.pi * progress)))


@dataclass
class FitResult:
    history: list[dict[str, Any]]  # one row per finished epoch, as in metrics.jsonl
    best_val_loss: float | None
    stopped_early: bool = False
    interrupted: bool = False  # Ctrl-C: a checkpoint was saved; fit(..., resume=True) continues
    precision: str = "fp32"
    extra: dict[str, Any] = field(default_factory=dict)


class Trainer:
    """Train `model` on a dataset's splits, writing a run directory when `out_dir` is given.

    >>> trainer = Trainer(model, TrainConfig(epochs=5), out_dir="runs/fm16")
    >>> result = trainer.fit(dataset.train, dataset.val)

    The model (and with it its optimizer state) moves to `runtime.device`; without a runtime it
    trains on this CPU, its precision resolved from `config.precision`.
    """

    def __init__(
        self,
        model: torch.nn.Module,
        config: TrainConfig,
        *,
        out_dir: str | Path | None = None,
        task: Task = identity,
        progress: bool = True,
        callbacks: Sequence[EpochCallback] = (),
        run_config: RunConfig | None = None,
        runtime: Runtime | None = None,
        tracker: Tracker | None = None,
    ) -> None:
        self.runtime = runtime if runtime is not None else cpu_runtime(config.precision)
        if config.precision != "auto" and self.runtime.precision != config.precision:
            raise AekitError(
                f"train.precision is {config.precision} but the runtime was made for "
                f"{self.runtime.precision}; build it with Runtime.create(device, precision)"
            )
        self.precision = self.runtime.precision
        if config.batch_size is not None:  # an unset one is chosen to fit (TrainConfig.resolved)
            self.runtime.check_batch_size(config.batch_size)  # one line if ranks cannot share it
        # Free where a CPU read is free (CPU ops are synchronous); on a GPU each read drains
        # the queue, and with several processes each read is two collectives (the loss sums,
        # the stop vote) on which every rank waits for the slowest, so read every 10 steps:
        # still within 10 steps of a divergence, which the message names exactly, and always
        # before anything is saved.
        alone_on_cpu = self.runtime.device.type == "cpu" and self.runtime.world_size == 1
        self.log_every = config.log_every or (1 if alone_on_cpu else 10)
        # On the device, and as the runtime trains it (SyncBatchNorm where that applies).
        self.model = self.runtime.prepare_model(model.to(self.runtime.device))
        self.config = config
        self.out_dir = Path(out_dir) if out_dir is not None else None
        self.task = task
        self.prepared = prepared_task(task, config)  # raw rows -> (inputs, target)
        self.progress = progress
        self.callbacks = list(callbacks)
        self.run_config = run_config
        # The writer alone tracks: with several processes the others hold the same numbers.
        self.tracker = tracker if self.runtime.is_writer else None
        # One optimizer unless the model declares several groups (steps.py); each group's lr is
        # the schedule's lr times the group's scale.
        self.optimizers, self.lr_scales = build_optimizers(self.model, config)
        self.step_context = StepContext(self.optimizers, self.runtime, config.grad_clip)
        # The generator of the model's per-row draws (a VAE's noise, the AAE's prior), reseeded
        # every step from (seed, step) and drawn for the whole global batch (runtime.row_draws).
        self.row_generator = torch.Generator(self.runtime.device)

    @property
    def optimizer(self) -> torch.optim.Optimizer:
        """The first (for most models the only) optimizer."""
        return next(iter(self.optimizers.values()))

    # -- the loop ------------------------------------------------------------------------------

    def fit(self, train, val=None, *, resume: bool = False) -> FitResult:
        """Train on `train` (a dataset split: ``rows``, ``labels``), validating on `val` each
        epoch if it is non-empty.

        Ctrl-C saves a checkpoint at the next step boundary and returns with `interrupted`;
        ``fit(..., resume=True)`` on the same out_dir continues bitwise where it stopped.
        """
        with stop_on_first_ctrl_c() as stop:
            return self._fit(train, val, resume, stop)

    def _fit(self, train, val, resume: bool, stop: StopFlag) -> FitResult:
        n = len(train.rows)
        # Unset epochs and batch size are chosen for this split, and recorded so (config.json).
        self.config = self.config.resolved(n, self.runtime.world_size)
        cfg, device = self.config, self.runtime.device
        if n < 2:
            noun = getattr(train, "noun", "rows")
            raise AekitError(f"the training split has {n} {noun}; training needs at least 2")
        if n < cfg.batch_size and self.runtime.world_size > 1:  # a short batch splits unevenly
            raise AekitError(
                f"the training split has {n} rows, fewer than train.batch_size {cfg.batch_size}; "
                f"{self.runtime.world_size} processes need at least one full batch"
            )
        batches = DeviceBatches(train.rows, train.labels, device)  # (N, ...) as stored
        has_val = val is not None and len(val) > 0
        val_batches = DeviceBatches(val.rows, val.labels, device) if has_val else None
        if cfg.channels_last:
            self.model.to(memory_format=torch.channels_last)
        if cfg.compile:  # in place: the parameters, optimizers and checkpoint keys stay as they are
            self.model.compile()

        # The last partial batch is dropped; it is a different set of rows every epoch, and
        # BatchNorm never sees a batch of one.
        steps_per_epoch = max(n // cfg.batch_size, 1)
        total_steps = steps_per_epoch * cfg.epochs
        if not resume:
            self._write_run_config()
        self.runtime.barrier()  # a resuming rank reads nothing the writer is still writing
        state = self._start_state(resume)
        if self.tracker is not None:
            self.tracker.start(state["epoch"] * steps_per_epoch + state["step"])
        history: list[dict[str, Any]] = state["history"]
        best_weights = state.get("best_weights")
        task_gen = torch.Generator()

        # torch's global generator: one stream per rank, rank 0's one process's (a model's
        # per-row noise is drawn for the whole global batch instead: runtime.row_draws).
        ranked = () if self.runtime.rank == 0 else (self.runtime.rank,)
        for epoch in range(state["epoch"], cfg.epochs):
            first_step = state["step"] if epoch == state["epoch"] else 0
            if first_step == 0:  # a fresh epoch: reseed; a resumed one restored the states
                # Every device's generator; each rank its own stream (rank 0 one process's),
                # so draws a model makes outside randn_rows (dropout) differ between ranks.
                torch.manual_seed(derived_seed(cfg.seed, epoch, 1, *ranked))
                task_gen.manual_seed(derived_seed(cfg.seed, epoch, 3))
                acc = Accumulator(runtime=self.runtime)
            else:  # this rank's stream, on any world size (checkpoint.restore_rng decides)
                fallback = derived_seed(cfg.seed, epoch, 4, first_step, *ranked)
                restored = ckpt.restore_rng(self.runtime, state["rng"], fallback)
                log.info(f"resumed at epoch {epoch + 1} step {first_step + 1}: {restored}")
                task_gen.set_state(state["rng"]["rng.task"])
                acc = Accumulator(state["sums"], state["count"], self.runtime)
            order = batches.place(batch_order(n, cfg.seed, epoch))
            self.model.train()
            started = time.perf_counter()
            seen = 0
            bar = tqdm(
                total=steps_per_epoch, initial=first_step, desc=f"epoch {epoch + 1}/{cfg.epochs}",
                unit="batch", disable=not (self.progress and sys.stderr.isatty()), leave=False,
                file=sys.stderr,
            )  # fmt: skip
            for step in range(first_step, steps_per_epoch):
                index = order[step * cfg.batch_size : (step + 1) * cfg.batch_size]
                global_step = epoch * steps_per_epoch + step
                losses, rows = self._step(batches, index, task_gen, total_steps, global_step)
                acc.add(losses, rows)
                seen += index.shape[0]
                bar.update(1)
                read = (global_step + 1) % self.log_every == 0 or step + 1 == steps_per_epoch
                due = self._checkpoint_due(global_step, step, steps_per_epoch)
                stopping = stop.requested
                if self.runtime.world_size > 1:  # ranks agree at log points: no rank waits alone
                    stopping = (read or due) and self.runtime.any_across(stop.requested)
                save = stopping or due
                if save or read:
                    rate = seen / max(time.perf_counter() - started, 1e-9)
                    self._read_losses(acc, state, bar, rate, epoch, step, steps_per_epoch)
                if save:
                    self.runtime.broadcast_buffers(self.model)  # what rank 0 saves, all hold
                    self._check_weights(epoch, step)
                    position = {"epoch": epoch, "step": step + 1, "sums": acc.sums,
                                "count": acc.count}  # fmt: skip
                    self._save_checkpoint(history, state, position, task_gen)
                if stopping:
                    bar.close()
                    self.runtime.barrier()  # return once the writer's checkpoint is saved
                    return FitResult(
                        history, state["best"], interrupted=True, precision=self.precision
                    )
            bar.close()

            seconds = time.perf_counter() - started
            row: dict[str, Any] = {"epoch": epoch + 1}
            row.update({f"train_{k}": v for k, v in acc.means().items()})
            self.runtime.broadcast_buffers(self.model)  # validate what rank 0 will save
            if has_val:
                val_means = validation_losses(
                    self.model, val_batches, self.prepared, cfg.seed, self.runtime
                )
                row.update({f"val_{k}": v for k, v in val_means.items()})
            row.update(
                lr=self.optimizer.param_groups[0]["lr"],  # the lr of the epoch's last step
                seconds=round(seconds, 3),
                images_per_s=round(seen / max(seconds, 1e-9), 1),
            )  # fmt: skip
            history.append(row)
            monitored = row["val_loss"] if has_val else row["train_loss"]
            if not math.isfinite(monitored):  # NaN never compares as better: catch it here
                self._diverged(f"{'val' if has_val else 'train'} loss is {monitored}", epoch, -1)
            self._check_weights(epoch, -1)
            improved = state["best"] is None or monitored < state["best"]
            if improved:
                state["best"], state["since_best"] = monitored, 0
                best_weights = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
                if self.out_dir is not None and self.runtime.is_writer:
                    with ckpt.resume_hint(self.out_dir):
                        ckpt.save_tensors_atomic(self.out_dir / ckpt.WEIGHTS, best_weights)
            else:
                state["since_best"] += 1
            position = {"epoch": epoch + 1, "step": 0, "sums": {}, "count": 0}
            self._save_checkpoint(history, state, position, task_gen)
            if self.tracker is not None:  # the row metrics.jsonl just got, at the epoch's last step
                self.tracker.log_epoch((epoch + 1) * steps_per_epoch, row, self.model)
            if self.progress:
                tqdm.write(epoch_line(row, cfg.epochs, getattr(train, "noun", "rows")),
                           file=sys.stderr)  # fmt: skip
            for callback in self.callbacks:
                callback(row, self.model)
            if cfg.patience is not None and state["since_best"] >= cfg.patience:
                self._restore(best_weights)
                self.runtime.barrier()
                return FitResult(history, state["best"], True, precision=self.precision)

        self._restore(best_weights)
        self.runtime.barrier()  # every rank returns once the run directory is complete
        return FitResult(history, state["best"], precision=self.precision)

    def _step(self, batches, index, task_gen, total_steps, global_step):
        """One step on this rank's slice of the global batch `index`, and the slice's size. The
        task draws for the whole global batch on every rank (its generator is the same on all),
        and so do the model's per-row draws (runtime.row_draws), so each row's noise does not
        depend on the world size."""
        cfg = self.config
        raw, y = batches.gather(index)  # rows as stored, and labels, on the device
        inputs, target = self.prepared(raw, task_gen)
        if self.runtime.world_size > 1:
            mine = self.runtime.shard(index.shape[0])
            inputs, target = inputs[mine], target[mine]
            y = None if y is None else y[mine]
        lr = lr_at(global_step, total_steps, cfg)
        for name, optimizer in self.optimizers.items():
            for group in optimizer.param_groups:
                group["lr"] = lr * self.lr_scales[name]
        # Stream 5: a pure function of (seed, step), so a resumed run needs no state for it.
        self.row_generator.manual_seed(derived_seed(cfg.seed, global_step, 5))
        with self.runtime.row_draws(self.row_generator, index.shape[0]):
            losses = training_step(self.model, inputs, target, y, self.step_context)
        return losses, inputs.shape[0]

    def _read_losses(self, acc, state, bar, rate, epoch, step, steps_per_epoch) -> None:
        """Read the steps since the last read back (one device sync) and check each one's loss
        in order, so a divergence names the step where it happened, not where it was read."""
        read = acc.read()
        first = step + 1 - len(read)
        for offset, losses in enumerate(read):
            if self.tracker is not None:  # before the check: a diverging step is worth seeing
                where = epoch * steps_per_epoch + first + offset
                values = {**losses, "lr": self._lr(where, steps_per_epoch)}
                if offset == len(read) - 1:
                    values["images_per_s"] = rate  # the epoch's so far, as the bar shows
                self.tracker.log_step(where + 1, values)
            loss = losses["loss"]
            if state["first_loss"] is None:
                state["first_loss"] = loss
            problem = divergence(loss, state["first_loss"])
            if problem is not None:
                bar.close()
                where = epoch * steps_per_epoch + first + offset
                self._diverged(problem, epoch, first + offset, self._lr(where, steps_per_epoch))
        if read:
            bar.set_postfix(loss=f"{read[-1]['loss']:.4g}", img_s=f"{rate:,.0f}")

    def _lr(self, global_step: int, steps_per_epoch: int) -> float:
        """The first optimizer's learning rate at `global_step`."""
        total = steps_per_epoch * self.config.epochs
        return lr_at(global_step, total, self.config) * next(iter(self.lr_scales.values()))

    # -- state ---------------------------------------------------------------------------------

    def _write_run_config(self) -> None:
        write_run_config(self.out_dir, self.runtime, self.model, self.task, self.run_config,
                         self.config)  # fmt: skip

    def _start_state(self, resume: bool) -> dict[str, Any]:
        return start_state(self.out_dir, self.runtime, self.model, self.optimizers, resume)

    def _checkpoint_due(self, global_step: int, step: int, steps_per_epoch: int) -> bool:
        """Every train.checkpoint_every steps, counted over the whole run so a resumed run saves
        at the same steps; not at an epoch's last step, where the epoch's own checkpoint follows."""
        every = self.config.checkpoint_every
        return every is not None and (global_step + 1) % every == 0 and step + 1 < steps_per_epoch

    def _save_checkpoint(self, history, state, position, task_gen) -> None:
        save_training_checkpoint(self.out_dir, self.runtime, self.model, self.optimizers,
                                 self.precision, history, state, position, task_gen)  # fmt: skip

    def _check_weights(self, epoch: int, step: int) -> None:
        name = non_finite_weight(self.model)
        if name is not None:
            self._diverged(f"weight {name} holds NaN or infinity", epoch, step)

    def _restore(self, best_weights) -> None:
        """Leave the model holding the weights saved as model.safetensors (best validation)."""
        if best_weights is not None:
            self.model.load_state_dict(best_weights)
        self.model.eval()

    def _diverged(self, what: str, epoch: int, step: int, lr: float | None = None) -> None:
        """Stop with the last good checkpoint kept; `step` -1 means the end of the epoch; `lr`
        is the learning rate of that step (default: the last step's)."""
        kept = ""
        if self.out_dir is not None and (self.out_dir / ckpt.CHECKPOINT).is_file():
            kept = f"; the last good checkpoint in {str(self.out_dir)!r} is kept"
        elif self.out_dir is not None and self.runtime.is_writer:
            # Nothing was trained yet: take back the config.json this fit wrote, so the same
            # --out can be used again with a lower learning rate.
            (self.out_dir / ckpt.CONFIG).unlink(missing_ok=True)
            kept = "; nothing was saved"
        lr = self.optimizer.param_groups[0]["lr"] if lr is None else lr
        where = f"after epoch {epoch + 1}" if step < 0 else f"at epoch {epoch + 1} step {step + 1}"
        raise AekitError(
            f"training diverged: {what} {where} "
            f"(lr {lr:.3g}){kept}; lower train.lr or set train.grad_clip"
        )
