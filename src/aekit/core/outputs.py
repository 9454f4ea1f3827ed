"""Named, fixed-shape outputs of every model (DESIGN.md principle 3).

A field that does not apply is ``None``, never missing: callers can rely on the shape.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from aekit.core.posterior import DiagonalGaussian


@dataclass(frozen=True)
class AEOutput:
    recon: torch.Tensor  # (B, C, H, W) reconstruction in [0, 1]
    z: torch.Tensor  # (B, *code_shape) the code the decoder saw (a sample for variational models)
    posterior: DiagonalGaussian | None = None  # q(z|x) for variational models, else None
    logits: torch.Tensor | None = None  # pre-sigmoid recon: BCE from logits never saturates


@dataclass(frozen=True)
class LossOutput:
    loss: torch.Tensor  # scalar to backpropagate: summed over pixels, mean over the batch
    parts: dict[str, torch.Tensor] = field(default_factory=dict)  # detached terms for logging
