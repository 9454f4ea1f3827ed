"""Generating images with a plain (non-variational) autoencoder.

A plain autoencoder has no prior to sample from, so aekit fits one: a Gaussian with the mean and
full covariance of the codes of (up to 10,000) training images. Codes drawn from it land where
real codes live, which is why their decodings look like data; drawing from N(0, I) instead, as
one would for a VAE, mostly decodes to blur. Perturbation adds noise in the same units: `sigma`
is a multiple of each code dimension's standard deviation over the training codes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from aekit.core.random import module_device
from aekit.errors import AekitError
from aekit.inference import embed


@dataclass(frozen=True)
class CodeDistribution:
    mean: torch.Tensor  # (D,)
    cov: torch.Tensor  # (D, D)
    code_shape: tuple[int, ...]

    @property
    def std(self) -> torch.Tensor:
        return self.cov.diagonal().clamp_min(0).sqrt()

    def from_standard(self, eps: torch.Tensor) -> torch.Tensor:
        """Standard normal draws (n, D) float64 -> codes of this Gaussian (n, *code_shape)
        float32: the one place that turns N(0, I) into N(mean, cov) (`aekit generate`, the
        explorer's random codes)."""
        d = self.mean.shape[0]
        # A tiny jitter keeps the Cholesky factor defined when some code dimensions never vary.
        factor = torch.linalg.cholesky(self.cov + 1e-6 * torch.eye(d, dtype=self.cov.dtype))
        return (self.mean + eps @ factor.T).float().view(eps.shape[0], *self.code_shape)


def fit_codes(
    model: torch.nn.Module,
    images_u8: np.ndarray,
    limit: int = 10_000,
    labels: np.ndarray | None = None,
) -> CodeDistribution:
    """Mean and covariance of the training codes (float64, so a 2-D or 128-D fit is exact)."""
    if images_u8.shape[0] < 2:
        raise AekitError("fitting a code distribution needs at least 2 training images")
    codes = embed(model, images_u8[:limit], labels=None if labels is None else labels[:limit])
    flat = torch.from_numpy(codes.reshape(codes.shape[0], -1)).double()
    mean = flat.mean(0)
    centred = flat - mean
    cov = centred.T @ centred / (flat.shape[0] - 1)
    return CodeDistribution(mean, cov, tuple(codes.shape[1:]))


def sample_codes(dist: CodeDistribution, n: int, generator: torch.Generator) -> torch.Tensor:
    """n codes drawn from the fitted Gaussian: (n, *code_shape) float32."""
    if n < 1:
        raise AekitError(f"-n must be at least 1, got {n}")
    eps = torch.randn(n, dist.mean.shape[0], generator=generator, dtype=torch.float64)
    return dist.from_standard(eps)


def perturb_codes(
    code: torch.Tensor, dist: CodeDistribution, sigma: float, n: int, generator: torch.Generator
) -> torch.Tensor:
    """n copies of one code (1, *code_shape) with noise of sigma training-code std devs added."""
    if not sigma >= 0 or sigma == float("inf"):
        raise AekitError(f"--sigma must be a finite number >= 0, got {sigma}")
    if n < 1:
        raise AekitError(f"-n must be at least 1, got {n}")
    flat = code.reshape(1, -1).double()
    eps = torch.randn(n, flat.shape[1], generator=generator, dtype=torch.float64)
    return (flat + sigma * dist.std * eps).float().view(n, *dist.code_shape)


@torch.no_grad()
def decode_codes(
    model: torch.nn.Module, codes: torch.Tensor, labels: np.ndarray | None = None
) -> torch.Tensor:
    """(n, C, H, W) in [0, 1] on the CPU, decoded where the model is; conditional models decode
    each code with its label."""
    model.eval()
    device = module_device(model)
    y = None if labels is None else torch.from_numpy(np.asarray(labels, dtype=np.int64))
    return model.decode(codes.to(device), None if y is None else y.to(device)).float().cpu()


def interpolate_codes(
    a: torch.Tensor, b: torch.Tensor, steps: int, spherical: bool
) -> torch.Tensor:
    """`steps` codes from a to b (both (1, *code_shape)), ends included. Spherical interpolation
    (slerp) keeps the norm of Gaussian codes near where the prior puts its mass; it falls back
    to linear when the two codes point the same way."""
    if steps < 2:
        raise AekitError(f"--steps must be at least 2, got {steps}")
    t = torch.linspace(0, 1, steps, dtype=torch.float64)[:, None]
    fa, fb = a.reshape(1, -1).double(), b.reshape(1, -1).double()
    if spherical:
        cos = (fa @ fb.T / (fa.norm() * fb.norm()).clamp_min(1e-12)).clamp(-1, 1)
        omega = torch.arccos(cos)
        if float(omega) > 1e-6:
            mixed = (torch.sin((1 - t) * omega) * fa + torch.sin(t * omega) * fb) / torch.sin(omega)
            return mixed.float().view(steps, *a.shape[1:])
    return ((1 - t) * fa + t * fb).float().view(steps, *a.shape[1:])


def manifold_codes(
    size: int, latent_dim: int, dims: tuple[int, int], base: torch.Tensor | None = None
) -> torch.Tensor:
    """A size x size grid of codes: dims (i, j) run through the N(0, 1) quantiles at
    linspace(0.05, 0.95) (equal prior mass between neighbours, as in the Keras VAE example); the
    other dimensions stay at `base` (default: the prior mean, 0). Rows go down dim j, columns
    across dim i."""
    if size < 2:
        raise AekitError(f"--size must be at least 2, got {size}")
    i, j = dims
    if not (0 <= i < latent_dim and 0 <= j < latent_dim) or i == j:
        raise AekitError(
            f"--dims must name two different latent dimensions in 0..{latent_dim - 1}, got {i},{j}"
        )
    q = torch.distributions.Normal(0.0, 1.0).icdf(torch.linspace(0.05, 0.95, size))
    codes = (
        torch.zeros(size, size, latent_dim)
        if base is None
        else base.reshape(1, 1, -1).repeat(size, size, 1)
    )
    codes[:, :, i] = q[None, :]
    codes[:, :, j] = q.flip(0)[:, None]  # the top row is the largest value, as on a plot
    return codes.view(size * size, latent_dim)
