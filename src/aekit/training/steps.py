"""One optimisation step, and the optimizers it updates.

Most models train with one optimizer: forward, loss, backward, step (`default_step`). A model
whose objective has several players -- an adversarial autoencoder updates its autoencoder, its
discriminator and its encoder-as-generator in turn, each with its own optimizer -- declares
`optimizer_groups()` and runs the phases itself in `training_step(inputs, target, y, ctx)`.
`StepContext` is all it gets: autocast, and `update(name, loss)` which zeroes that optimizer's
gradients, backpropagates, all-reduces the gradients through the runtime (a no-op with one
process), clips and steps. The trainer still never names a model family, and precision, device,
clipping, schedules and checkpoints stay in one place for every model: since every backward pass
of every model goes through `update`, data-parallel training only fills in the runtime's hooks.
"""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass

import torch

from aekit.runtime.runtime import Runtime
from aekit.training.config import TrainConfig

DEFAULT_GROUP = "main"  # the name of the only optimizer of a model without optimizer_groups()


def build_optimizer(params: Iterable[torch.nn.Parameter], config: TrainConfig, lr: float):
    params = [p for p in params if p.requires_grad]
    if config.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=config.weight_decay, fused=True)
    if config.optimizer == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=config.weight_decay, fused=True)
    if config.optimizer == "rmsprop":  # Keras's defaults (rho 0.9, eps 1e-7), as the lesson ran
        return torch.optim.RMSprop(
            params, lr=lr, alpha=0.9, eps=1e-7, weight_decay=config.weight_decay
        )
    return torch.optim.SGD(params, lr=lr, momentum=0.9, weight_decay=config.weight_decay)


def build_optimizers(
    model: torch.nn.Module, config: TrainConfig
) -> tuple[dict[str, torch.optim.Optimizer], dict[str, float]]:
    """One optimizer per group the model declares (else one over all parameters), and each
    group's learning-rate multiplier (the schedule scales them all alike)."""
    groups = getattr(model, "optimizer_groups", None)
    declared = groups() if groups is not None else {DEFAULT_GROUP: (model.parameters(), 1.0)}
    optimizers, scales = {}, {}
    for name, (params, scale) in declared.items():
        optimizers[name] = build_optimizer(params, config, config.lr * scale)
        scales[name] = scale
    return optimizers, scales


@dataclass
class StepContext:
    """What a model's `training_step` may use: autocast and one `update` per optimizer."""

    optimizers: dict[str, torch.optim.Optimizer]
    runtime: Runtime
    grad_clip: float | None

    def autocast(self) -> AbstractContextManager:
        return self.runtime.autocast()

    def update(self, name: str, loss: torch.Tensor) -> None:
        """One phase: zero this optimizer's gradients, backpropagate `loss`, all-reduce the
        gradients over processes, clip, step."""
        optimizer = self.optimizers[name]
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        params = [p for group in optimizer.param_groups for p in group["params"]]
        self.runtime.all_reduce_grads(params)  # before clipping: every rank clips the same
        if self.grad_clip is not None:
            torch.nn.utils.clip_grad_norm_(params, self.grad_clip)
        optimizer.step()


def batch_losses(model, out, target) -> dict[str, torch.Tensor]:
    result = model.loss(out, target)
    return {"loss": result.loss, **result.parts}


def default_step(model, inputs, target, y, ctx: StepContext) -> dict[str, torch.Tensor]:
    """The step of DESIGN.md's contract: out = model(x, y); model.loss(out, target) backward."""
    with ctx.autocast():
        out = model(inputs, y)
    losses = batch_losses(model, out, target)  # fp32, outside autocast
    ctx.update(DEFAULT_GROUP, losses["loss"])
    return losses


def training_step(model, inputs, target, y, ctx: StepContext) -> dict[str, torch.Tensor]:
    """The model's own multi-phase step if it has one, else the default; detached losses."""
    step = getattr(model, "training_step", None)
    losses = (
        step(inputs, target, y, ctx)
        if step is not None
        else default_step(model, inputs, target, y, ctx)
    )
    return {k: v.detach() for k, v in losses.items()}
