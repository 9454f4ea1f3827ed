"""Variational autoencoders: `vae` (fully connected) and `conv-vae` (convolutional).

`vae` with its defaults is the lesson's model: 784-512-2 with a ReLU hidden layer, sampled with
the log-variance convention of posterior.py; `aekit train vae --preset lesson` also trains it the
lesson's way (RMSprop, batch 100, 50 epochs, constant learning rate). `conv-vae` is the lesson's
assignment, the convolutional autoencoder turned into a VAE: conv-ae's encoder and decoder
networks (either arch) with a Gaussian head in between.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from aekit.core.posterior import DiagonalGaussian
from aekit.core.random import module_device
from aekit.errors import AekitError
from aekit.models.ae import mlp
from aekit.models.base import check_image_shape, check_latent_dim, check_size, check_widths
from aekit.models.conv_ae import check_conv_arch, conv_networks
from aekit.models.losses import check_recon_loss
from aekit.models.variational import GaussianHead, VariationalAutoencoder


def check_variational(config) -> None:
    config.image_shape = check_image_shape(config.image_shape)
    check_latent_dim(config.latent_dim, optional=False)
    if not config.beta >= 0 or math.isinf(config.beta):
        raise AekitError(f"beta must be a finite number >= 0, got {config.beta}")
    if config.kl_warmup_steps < 0:
        raise AekitError(f"kl_warmup_steps must be >= 0, got {config.kl_warmup_steps}")
    check_recon_loss(config.loss)


@dataclass
class VAEConfig:
    image_shape: tuple[int, int, int] = (1, 28, 28)  # (C, H, W); the CLI fills it from the data
    latent_dim: int = 2  # the lesson's 2-D latent, which can be drawn as a plane
    hidden: tuple[int, ...] = (512,)  # the lesson's single hidden layer
    beta: float = 1.0  # weight of the KL term: 1 is the ELBO, > 1 a beta-VAE
    kl_warmup_steps: int = 0  # ramp beta up from 0 over this many training steps
    loss: str = "bce"  # Bernoulli decoder (lesson); "mse" for a Gaussian one

    def __post_init__(self) -> None:
        check_variational(self)
        self.hidden = check_widths("hidden", self.hidden)  # at least one hidden layer


class VAE(VariationalAutoencoder):
    def __init__(self, config: VAEConfig) -> None:
        super().__init__()
        self.config = config
        widths = [math.prod(config.image_shape), *config.hidden]
        self.encoder = nn.Sequential(mlp(widths), nn.ReLU())  # (B, hidden[-1])
        self.head = GaussianHead(widths[-1], config.latent_dim)
        self.decoder = mlp([config.latent_dim, *widths[::-1]])  # logits

    def encode(self, x: torch.Tensor, y: torch.Tensor | None = None) -> DiagonalGaussian:
        return self.head(self.encoder(x.flatten(1)))

    def decode_logits(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.decoder(z).view(z.shape[0], *self.config.image_shape)


@dataclass
class ConvVAEConfig:
    image_shape: tuple[int, int, int] = (1, 28, 28)  # (C, H, W); the CLI fills it from the data
    latent_dim: int = 16
    arch: str = "default"  # conv-ae's networks: "default" or "lesson" (16-8-8)
    channels: tuple[int, ...] = (16, 32, 64)  # default arch: width per level
    beta: float = 1.0  # weight of the KL term: 1 is the ELBO, > 1 a beta-VAE
    kl_warmup_steps: int = 0  # ramp beta up from 0 over this many training steps
    loss: str = "bce"  # Bernoulli decoder; "mse" for a Gaussian one
    norm: str = "batch"  # default arch: "batch", "group" or "none"; see ConvAEConfig.norm

    def __post_init__(self) -> None:
        check_variational(self)
        check_conv_arch(self, "conv-vae")


class ConvVAE(VariationalAutoencoder):
    def __init__(self, config: ConvVAEConfig) -> None:
        super().__init__()
        self.config = config
        self.encoder, self.decoder, map_shape = conv_networks(config)
        self.map_shape = map_shape
        self.head = GaussianHead(math.prod(map_shape), config.latent_dim)
        self.up = nn.Linear(config.latent_dim, math.prod(map_shape))

    def encode(self, x: torch.Tensor, y: torch.Tensor | None = None) -> DiagonalGaussian:
        return self.head(self.encoder(x))

    def decode_logits(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        h = torch.relu(self.up(z)).view(z.shape[0], *self.map_shape)
        return self.decoder(h)


@dataclass
class CVAEConfig(ConvVAEConfig):
    """conv-vae's settings plus the number of classes (config data, not model behaviour,
    is what is shared here)."""

    latent_dim: int = 8  # the label carries the class, so the code needs fewer numbers
    num_classes: int = 10  # the CLI fills it from the data's labels

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.num_classes < 2:
            raise AekitError(f"cvae needs num_classes >= 2, got {self.num_classes}")
        check_size("num_classes", self.num_classes)


class CVAE(VariationalAutoencoder):
    """Conditional VAE (Sohn et al. 2015, https://papers.nips.cc/paper/5775): the one-hot label
    joins the conv features before the Gaussian head and the code before the decoder, so
    q(z|x, y) and p(x|z, y); sampling with a label draws that class."""

    def __init__(self, config: CVAEConfig) -> None:
        super().__init__()
        self.config = config
        self.encoder, self.decoder, map_shape = conv_networks(config)
        self.map_shape = map_shape
        self.head = GaussianHead(math.prod(map_shape) + config.num_classes, config.latent_dim)
        self.up = nn.Linear(config.latent_dim + config.num_classes, math.prod(map_shape))

    def one_hot(self, y: torch.Tensor | None) -> torch.Tensor:
        if y is None:
            raise AekitError(
                "cvae is conditioned on labels and got none: use it on a labelled dataset "
                "split, or `aekit sample --label`"
            )
        y = torch.as_tensor(y, device=module_device(self))  # a CPU label for a GPU model
        if torch.compiler.is_exporting():
            # An exported graph cannot branch on data: the range check stays in Python, and the
            # export's preprocessing.json states the labels the model takes (aekit/export/).
            return nn.functional.one_hot(y.long(), self.config.num_classes).float()
        bad = (y < 0) | (y >= self.config.num_classes)
        if bool(bad.any()):
            last = self.config.num_classes - 1
            raise AekitError(f"label {int(y[bad][0])} is outside the trained classes 0..{last}")
        return nn.functional.one_hot(y.long(), self.config.num_classes).float()

    def encode(self, x: torch.Tensor, y: torch.Tensor | None = None) -> DiagonalGaussian:
        features = self.encoder(x).flatten(1)
        return self.head(torch.cat([features, self.one_hot(y).to(features.dtype)], dim=1))

    def decode_logits(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        zy = torch.cat([z, self.one_hot(y).to(z.dtype)], dim=1)
        return self.decoder(torch.relu(self.up(zy)).view(z.shape[0], *self.map_shape))
