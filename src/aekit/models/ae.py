"""Fully connected autoencoder: flatten -> MLP -> code -> MLP -> sigmoid image.

``--set model.hidden=[]`` with latent_dim=32 is the lesson's first model (784-32-784, Keras blog
"Building Autoencoders in Keras"), except that the code is linear here: the lesson's ReLU on the
code zeroes part of it. The default adds two hidden layers, which reconstructs far better at the
same code size.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from aekit.models.base import Autoencoder, check_image_shape, check_latent_dim, check_widths
from aekit.models.losses import check_recon_loss


@dataclass
class AEConfig:
    image_shape: tuple[int, int, int] = (1, 28, 28)  # (C, H, W); the CLI fills it from the data
    latent_dim: int = 32  # the lesson's code size
    hidden: tuple[int, ...] = (512, 256)  # encoder widths; the decoder mirrors them
    loss: str = "bce"  # "bce" treats pixels as Bernoulli probabilities (lesson); or "mse"

    def __post_init__(self) -> None:
        self.image_shape = check_image_shape(self.image_shape)
        check_latent_dim(self.latent_dim, optional=False)
        self.hidden = check_widths("hidden", self.hidden, allow_empty=True)
        check_recon_loss(self.loss)


def mlp(widths: list[int]) -> nn.Sequential:
    """Linear layers with ReLU between them, none after the last."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(widths[:-1], widths[1:], strict=True)):
        layers.append(nn.Linear(a, b))
        if i < len(widths) - 2:
            layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


class AE(Autoencoder):
    def __init__(self, config: AEConfig) -> None:
        super().__init__()
        self.config = config
        n_pixels = math.prod(config.image_shape)
        widths = [n_pixels, *config.hidden, config.latent_dim]
        # A ReLU on the code would kill half of it; the code stays linear, as in PCA.
        self.encoder = mlp(widths)
        self.decoder = mlp(widths[::-1])  # logits; decode() applies the sigmoid

    def encode(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.encoder(x.flatten(1))  # (B, latent_dim)

    def decode_logits(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.decoder(z).view(z.shape[0], *self.config.image_shape)  # (B, C, H, W)
