"""What every variational autoencoder shares: a reparameterised sample of q(z|x) in training,
the posterior mean at evaluation, and the loss  recon + beta * KL(q(z|x) || N(0, I)).

Kingma & Welling 2014 (https://arxiv.org/abs/1312.6114); beta-VAE: Higgins et al. 2017
(https://openreview.net/forum?id=Sy2fzU9gl). KL warm-up (Bowman et al. 2016,
https://arxiv.org/abs/1511.06349) ramps beta linearly from 0 over the first `kl_warmup_steps`
training steps. The step count is a buffer, so it is saved in checkpoints and a resumed run
continues the ramp where it stopped; the trainer knows nothing about it.
"""

from __future__ import annotations

import torch

from aekit.core.outputs import AEOutput, LossOutput
from aekit.core.posterior import DiagonalGaussian
from aekit.core.random import module_device, randn
from aekit.core.spec import spec_for
from aekit.errors import AekitError
from aekit.models.base import Autoencoder
from aekit.models.losses import reconstruction_loss


class VariationalAutoencoder(Autoencoder):
    """Families implement `encode` (returning a DiagonalGaussian) and `decode_logits`; their
    config has `latent_dim`, `beta`, `kl_warmup_steps` and `loss`."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("steps_seen", torch.zeros((), dtype=torch.int64))

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> AEOutput:
        posterior: DiagonalGaussian = self.encode(x, y)
        z = posterior.sample() if self.training else posterior.mode()
        logits = self.decode_logits(z, y)
        return AEOutput(recon=torch.sigmoid(logits), z=z, posterior=posterior, logits=logits)

    def kl_weight(self) -> float:
        warmup = self.config.kl_warmup_steps
        ramp = 1.0 if warmup == 0 else min(1.0, int(self.steps_seen) / warmup)
        return self.config.beta * ramp

    def loss(self, out: AEOutput, target: torch.Tensor) -> LossOutput:
        recon = reconstruction_loss(out.recon, target, self.config.loss, out.logits).mean()
        kl = out.posterior.kl().mean()
        weight = self.kl_weight()
        if self.training:
            self.steps_seen += 1
        return LossOutput(
            loss=recon + weight * kl,
            parts={"recon": recon.detach(), "kl": kl.detach(), "elbo": -(recon + kl).detach()},
        )

    @torch.no_grad()
    def sample(
        self, n: int, y: torch.Tensor | None = None, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """n images decoded from z ~ N(0, I), the prior: (n, C, H, W) in [0, 1]."""
        z = randn((n, self.config.latent_dim), generator, module_device(self))
        if y is not None and not spec_for(self).conditional:
            raise AekitError(f"{type(self).__name__} is not conditional: it takes no label")
        return self.decode(z, y)


class GaussianHead(torch.nn.Module):
    """(B, features) -> DiagonalGaussian over latent_dim: two linear maps, mean and log-var."""

    def __init__(self, features: int, latent_dim: int) -> None:
        super().__init__()
        self.mean = torch.nn.Linear(features, latent_dim)
        self.logvar = torch.nn.Linear(features, latent_dim)

    def forward(self, h: torch.Tensor) -> DiagonalGaussian:
        h = h.flatten(1)
        return DiagonalGaussian(self.mean(h), self.logvar(h))
