"""Reconstruction losses shared by every model.

Each is summed over pixels and averaged over the batch, so the number does not change with the
batch size, and is computed in fp32 even when the forward pass ran under bf16 autocast
(PERFORMANCE-NOTES: bf16 sums over 784 pixels lose too many digits).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from aekit.errors import AekitError

RECON_LOSSES = ("bce", "mse")


def check_recon_loss(name: str) -> None:
    if name not in RECON_LOSSES:
        raise AekitError(f"unknown reconstruction loss {name!r}; choose one of {RECON_LOSSES}")


def reconstruction_loss(
    recon: torch.Tensor, target: torch.Tensor, kind: str, logits: torch.Tensor | None = None
) -> torch.Tensor:
    """Per-example loss summed over pixels: shape (B,). `recon` holds probabilities in [0, 1].

    Give `logits` (the pre-sigmoid output) whenever the model has them: BCE from logits is exact
    and its gradient, sigmoid(logit) - target, never vanishes. From probabilities, a bf16 sigmoid
    rounds to exactly 1.0 for logits above ~6, and such a pixel gets no gradient at all.
    """
    target = target.float()
    if kind == "bce" and logits is not None:
        per_pixel = F.binary_cross_entropy_with_logits(logits.float(), target, reduction="none")
    elif kind == "bce":
        # As F.binary_cross_entropy, log() is clamped at -100 so a saturated output cannot give
        # inf; unlike it, a NaN output gives a NaN loss (which the trainer reports), not a crash.
        # p is clamped first so the backward pass never multiplies 0 by an infinite slope.
        p = recon.float().clamp(1e-12, 1.0 - 1e-7)
        per_pixel = -(target * torch.log(p) + (1.0 - target) * torch.log1p(-p))
    elif kind == "mse":
        per_pixel = (recon.float() - target).pow(2)
    else:
        check_recon_loss(kind)
        raise AssertionError("unreachable")
    return per_pixel.flatten(1).sum(dim=1)
