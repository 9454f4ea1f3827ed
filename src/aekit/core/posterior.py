"""The diagonal Gaussian posterior q(z|x) = N(mean, diag(exp(logvar))).

Convention: aekit stores the **log-variance**, log(sigma^2), everywhere. The lesson's notebooks
sample with exp(log_sigma) but compute the KL as if the same number were a log-variance; here
``std = exp(0.5 * logvar)`` in sampling and in the KL, so the two always agree.

Kingma & Welling, "Auto-Encoding Variational Bayes", https://arxiv.org/abs/1312.6114 (appendix B
gives the closed-form KL against N(0, I) used in `kl`).
"""

from __future__ import annotations

import torch

from aekit.core.random import randn, randn_rows


class DiagonalGaussian:
    """q(z|x) with ``mean`` and ``logvar`` of the same shape (B, *latent_shape)."""

    def __init__(self, mean: torch.Tensor, logvar: torch.Tensor) -> None:
        if mean.shape != logvar.shape:
            raise ValueError(f"mean {tuple(mean.shape)} and logvar {tuple(logvar.shape)} differ")
        self.mean = mean
        # Clamp so exp() can neither overflow nor collapse to exactly zero variance.
        self.logvar = logvar.clamp(-30.0, 20.0)

    @property
    def std(self) -> torch.Tensor:
        return torch.exp(0.5 * self.logvar)

    def sample(self, generator: torch.Generator | None = None) -> torch.Tensor:
        """Reparameterised sample mean + std * eps, differentiable in mean and logvar; eps is
        drawn on the generator's device and moved beside the mean (core/random.py). Without a
        generator eps is a per-row draw (`randn_rows`): in training, the step's draw for each
        global row, so a run's noise does not depend on how many processes trained it."""
        if generator is None:
            eps = randn_rows(self.mean.shape, self.mean.device, self.mean.dtype)
        else:
            eps = randn(self.mean.shape, generator, self.mean.device, self.mean.dtype)
        return self.mean + self.std * eps

    def mode(self) -> torch.Tensor:
        return self.mean

    def kl(self) -> torch.Tensor:
        """KL(q || N(0, I)) per example, summed over latent dimensions: shape (B,)."""
        mean, logvar = self.mean.float(), self.logvar.float()  # fp32 even under bf16 autocast
        per_dim = 0.5 * (mean.pow(2) + logvar.exp() - 1.0 - logvar)
        return per_dim.flatten(1).sum(dim=1)
