"""What every deterministic autoencoder shares: forward = decode(encode(x)), loss = reconstruction.

Model families subclass `Autoencoder` and implement only `encode` and `decode_logits` (the
decoder without its final sigmoid, so the BCE loss can work from logits);
variational families override `forward` and `loss` to add the posterior and the KL term. This is
an abstract base with the interface from DESIGN.md, not a concrete class to specialise.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from aekit.core.outputs import AEOutput, LossOutput
from aekit.core.posterior import DiagonalGaussian
from aekit.core.random import module_device
from aekit.core.spec import spec_for
from aekit.errors import AekitError
from aekit.models.losses import reconstruction_loss


class Autoencoder(nn.Module):
    config: Any  # the model's config dataclass; has at least `image_shape` and `loss`

    def encode(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        raise NotImplementedError

    def decode_logits(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """The decoder up to, not including, its final sigmoid: (B, C, H, W) logits."""
        raise NotImplementedError

    def decode(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return torch.sigmoid(self.decode_logits(z, y))  # (B, C, H, W) in [0, 1]

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> AEOutput:
        z = self.encode(x, y)
        logits = self.decode_logits(z, y)
        return AEOutput(recon=torch.sigmoid(logits), z=z, logits=logits)

    def loss(self, out: AEOutput, target: torch.Tensor) -> LossOutput:
        recon = reconstruction_loss(out.recon, target, self.config.loss, out.logits).mean()
        return LossOutput(loss=recon, parts={"recon": recon.detach()})

    @property
    def output_shape(self) -> tuple[int, int, int]:
        """(C, H, W) of what the model produces; the input's shape unless it resizes."""
        return tuple(self.config.image_shape)

    @property
    def code_shape(self) -> tuple[int, ...]:
        """Shape of one code (without the batch dimension)."""
        was_training = self.training
        self.eval()  # BatchNorm cannot take a batch of one in training mode
        try:
            with torch.no_grad():
                device = module_device(self)  # a model on a GPU (or meta) probes there
                probe = torch.zeros(1, *self.config.image_shape, device=device)
                label = torch.zeros(1, dtype=torch.long, device=device)  # conditional models
                z = self.encode(probe, label if spec_for(self).conditional else None)
        finally:
            self.train(was_training)
        if isinstance(z, DiagonalGaussian):
            z = z.mean
        return tuple(z.shape[1:])

    @property
    def code_dim(self) -> int:
        """Number of numbers in one code: a 4x4x8 map counts as 128 dimensions."""
        return math.prod(self.code_shape)


# Bounds on any one size in a model config (image side, layer width, code size, class count) and
# on the number of layers: far above any model worth training on a CPU, and far below numbers that
# would overflow torch's sizes or take minutes to build. A config.json is a file from anywhere.
MAX_SIZE = 1 << 16
MAX_LAYERS = 32


def check_image_shape(image_shape: tuple[int, ...]) -> tuple[int, int, int]:
    shape = tuple(int(s) for s in image_shape)
    if len(shape) != 3 or min(shape) < 1 or max(shape) > MAX_SIZE:
        raise AekitError(
            f"image_shape must be (channels, height, width), each 1..{MAX_SIZE}, got {image_shape}"
        )
    return shape  # type: ignore[return-value]


def check_latent_dim(latent_dim: int | None, *, optional: bool) -> None:
    if latent_dim is None and optional:
        return
    if not isinstance(latent_dim, int) or isinstance(latent_dim, bool):
        raise AekitError(f"latent_dim must be an integer >= 1, got {latent_dim!r}")
    check_size("latent_dim", latent_dim)


def check_size(name: str, value: int) -> None:
    """One width, channel count or class count: 1..MAX_SIZE."""
    if value < 1:
        raise AekitError(f"{name} must be an integer >= 1, got {value!r}")
    if value > MAX_SIZE:
        raise AekitError(f"{name} must be at most {MAX_SIZE}, got {value!r}")


def check_widths(
    name: str, widths: tuple[int, ...], *, allow_empty: bool = False
) -> tuple[int, ...]:
    """Layer widths: 1..MAX_LAYERS of them (or none, if allowed), each 1..MAX_SIZE."""
    widths = tuple(int(w) for w in widths)
    fewest = 0 if allow_empty else 1
    if not fewest <= len(widths) <= MAX_LAYERS or any(not 1 <= w <= MAX_SIZE for w in widths):
        raise AekitError(
            f"{name} must be {fewest} to {MAX_LAYERS} layer widths, each 1..{MAX_SIZE}, "
            f"got {list(widths)}"
        )
    return widths
