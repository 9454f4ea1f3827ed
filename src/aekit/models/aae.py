"""Adversarial autoencoder (Makhzani et al. 2016, https://arxiv.org/abs/1511.05644).

A deterministic autoencoder whose codes are pushed towards the prior N(0, I) by a discriminator
instead of a KL term: the discriminator learns to tell prior draws (label 1) from codes (label 0),
and the encoder, as a generator, learns to make its codes pass for prior draws. Once trained,
decoding prior draws generates images, as with a VAE, and `sample`/`manifold` work the same way.

Each training step has three phases, each with its own optimizer (training/steps.py):

1. reconstruction: encoder + decoder on the reconstruction loss;
2. discriminator: on prior draws vs. the codes of the batch, *detached*, so this phase cannot
   move the encoder;
3. regulariser: the encoder on -log D(code), the discriminator frozen.

The discriminator's accuracy in phase 2 is logged (`disc_acc`): near 0.5 the codes look like
prior draws; near 1.0 for long, the encoder has lost the game and samples will be poor.
The networks are conv-ae's (either arch) with a dense bottleneck to `latent_dim`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from aekit.core.random import module_device, randn, randn_rows
from aekit.errors import AekitError
from aekit.models.ae import mlp
from aekit.models.base import Autoencoder, check_image_shape, check_latent_dim, check_widths
from aekit.models.conv_ae import Bottleneck, check_conv_arch, conv_networks
from aekit.models.losses import check_recon_loss


@dataclass
class AAEConfig:
    image_shape: tuple[int, int, int] = (1, 28, 28)  # (C, H, W); the CLI fills it from the data
    latent_dim: int = 8
    arch: str = "default"  # conv-ae's networks: "default" or "lesson" (16-8-8)
    channels: tuple[int, ...] = (16, 32, 64)  # default arch: width per level
    disc_hidden: tuple[int, ...] = (256, 256)  # discriminator MLP widths (the paper: 1000-1000)
    adversarial_lr_scale: float = 0.5  # lr of the discriminator and regulariser phases, x train.lr
    loss: str = "bce"  # reconstruction: "bce" (Bernoulli pixels) or "mse"
    norm: str = "batch"  # default arch: "batch", "group" or "none"; see ConvAEConfig.norm

    def __post_init__(self) -> None:
        self.image_shape = check_image_shape(self.image_shape)
        check_latent_dim(self.latent_dim, optional=False)
        check_conv_arch(self, "aae")
        self.disc_hidden = check_widths("disc_hidden", self.disc_hidden)
        if not self.adversarial_lr_scale > 0 or self.adversarial_lr_scale == float("inf"):
            raise AekitError(
                f"adversarial_lr_scale must be a finite number > 0, got {self.adversarial_lr_scale}"
            )
        check_recon_loss(self.loss)


class AAE(Autoencoder):
    def __init__(self, config: AAEConfig) -> None:
        super().__init__()
        self.config = config
        self.encoder, self.decoder, map_shape = conv_networks(config)
        self.bottleneck = Bottleneck(map_shape, config.latent_dim)
        self.discriminator = mlp([config.latent_dim, *config.disc_hidden, 1])  # logit: prior?

    def encode(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.bottleneck.encode(self.encoder(x))  # (B, latent_dim)

    def decode_logits(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.decoder(self.bottleneck.decode(z))  # (B, C, H, W) logits

    # -- training: three phases, three optimizers ----------------------------------------------

    def optimizer_groups(self) -> dict[str, tuple[list[torch.nn.Parameter], float]]:
        encoder = [*self.encoder.parameters(), *self.bottleneck.down.parameters()]
        decoder = [*self.bottleneck.up.parameters(), *self.decoder.parameters()]
        scale = self.config.adversarial_lr_scale
        return {
            "recon": (encoder + decoder, 1.0),
            "disc": (list(self.discriminator.parameters()), scale),
            "gen": (encoder, scale),
        }

    def training_step(self, inputs, target, y, ctx) -> dict[str, torch.Tensor]:
        with ctx.autocast():
            out = self(inputs, y)
        recon = self.loss(out, target).loss  # fp32
        ctx.update("recon", recon)

        with ctx.autocast():
            z = self.encode(inputs)  # the updated encoder's codes, (B, latent_dim)
            # One draw per global row of the step (core/random.py), whatever the world size.
            prior = randn_rows(z.shape, z.device, torch.float32)
            logits = self.discriminator(torch.cat([prior.to(z.dtype), z.detach()])).float()
        is_prior = torch.zeros_like(logits)  # (2B, 1) beside the logits: prior draws first
        is_prior[: len(z)] = 1.0
        disc = F.binary_cross_entropy_with_logits(logits, is_prior)
        ctx.update("disc", disc)

        self.discriminator.requires_grad_(False)  # the regulariser moves the encoder only
        try:
            with ctx.autocast():
                fooled = self.discriminator(z).float()
            gen = F.binary_cross_entropy_with_logits(fooled, torch.ones_like(fooled))
            ctx.update("gen", gen)
        finally:
            self.discriminator.requires_grad_(True)
        accuracy = ((logits > 0).float() == is_prior).float().mean()
        return {"loss": recon, "recon": recon, "disc": disc, "gen": gen, "disc_acc": accuracy}

    @torch.no_grad()
    def sample(
        self, n: int, y: torch.Tensor | None = None, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """n images decoded from z ~ N(0, I), the prior the codes were matched to."""
        if y is not None:
            raise AekitError("AAE is not conditional: it takes no label")
        z = randn((n, self.config.latent_dim), generator, module_device(self))
        return self.decode(z)
