"""Honest log-likelihoods for variational models with a Bernoulli decoder.

The ELBO is a lower bound on log p(x); the importance-weighted estimate
    log p(x) ~= logsumexp_k [log p(x|z_k) + log p(z_k) - log q(z_k|x)] - log K,   z_k ~ q(z|x)
tightens it as K grows (Burda et al. 2016, https://arxiv.org/abs/1509.00519). Both are in nats
per image, on *dynamically binarized* data (each pixel drawn as Bernoulli(intensity), seeded):
a Bernoulli likelihood of grey levels is not a probability of anything.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from aekit.core.random import module_device, randn
from aekit.core.spec import spec_for
from aekit.errors import AekitError
from aekit.inference import check_fits, labelled_batches


def gaussian_log_density(z: torch.Tensor, mean: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """log N(z; mean, diag(exp(logvar))) summed over the last dimension."""
    return -0.5 * (math.log(2 * math.pi) + logvar + (z - mean) ** 2 / logvar.exp()).sum(-1)


@torch.no_grad()
def importance_nll(
    model: torch.nn.Module,
    images_u8: np.ndarray,
    k: int = 1000,
    *,
    batch_size: int = 64,
    chunk: int = 128,
    seed: int = 0,
    labels: np.ndarray | None = None,
) -> dict[str, float]:
    """Mean test NLL (importance-sampled with k draws) and mean -ELBO, in nats per image.

    Memory stays bounded: at most `batch_size * chunk` images are decoded at once.
    """
    if not spec_for(model).variational:
        raise AekitError(
            "likelihoods need a model with a posterior q(z|x) (vae, conv-vae, cvae); "
            f"{type(model).__name__} has none"
        )
    modality = spec_for(model).modality
    if modality != "images":
        raise AekitError(
            f"--nll-samples is for image models (binarized pixels); this is a {modality} model"
        )
    if model.config.loss != "bce":
        raise AekitError(
            f"likelihoods here need a Bernoulli decoder (loss bce), not {model.config.loss!r}"
        )
    if k < 1:
        raise AekitError(f"--nll-samples must be >= 1, got {k}")
    check_fits(model, images_u8)
    model.eval()
    # Draws on a CPU generator, then moved to the model's device: the same seed gives the same
    # estimate wherever the model runs (up to the device's rounding).
    device = module_device(model)
    generator = torch.Generator().manual_seed(seed)
    nll_sum = neg_elbo_sum = 0.0
    for x, y in labelled_batches(images_u8, labels, batch_size):
        x = torch.bernoulli(x, generator=generator).to(device)  # dynamic binarization
        y = None if y is None else y.to(device)
        posterior = model.encode(x, y)
        mean, logvar = posterior.mean.float().flatten(1), posterior.logvar.float().flatten(1)
        log_weights = []
        for start in range(0, k, chunk):
            n = min(chunk, k - start)
            eps = randn((n, *mean.shape), generator, device)
            z = mean + (0.5 * logvar).exp() * eps  # (n, B, D)
            ys = None if y is None else y.repeat(n)  # matches z.flatten(0, 1): sample-major
            logits = model.decode_logits(z.flatten(0, 1), ys).float()  # (n * B, C, H, W)
            target = x.repeat(n, 1, 1, 1)
            log_px_z = -F.binary_cross_entropy_with_logits(logits, target, reduction="none")
            log_px_z = log_px_z.flatten(1).sum(1).view(n, -1)  # (n, B)
            log_pz = gaussian_log_density(z, torch.zeros_like(z), torch.zeros_like(z))
            log_qz = gaussian_log_density(z, mean, logvar)
            log_weights.append(log_px_z + log_pz - log_qz)
        w = torch.cat(log_weights)  # (k, B)
        nll_sum += float(-(torch.logsumexp(w, 0) - math.log(k)).sum())
        neg_elbo_sum += float(-w.mean(0).sum())
    n_images = images_u8.shape[0]
    return {"nll": nll_sum / n_images, "neg_elbo": neg_elbo_sum / n_images, "k": k}
