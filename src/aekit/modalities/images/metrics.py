"""Image-quality metrics: pure functions, one value per image, averaged by the caller.

Conventions: images are float tensors (B, C, H, W) in [0, 1]; MSE and BCE are means over pixels
(so they read like the lesson's Keras losses, unlike the training loss, which sums over pixels);
PSNR is in dB for a data range of 1; SSIM follows Wang et al. 2004 ("Image quality assessment:
from error visibility to structural similarity", IEEE TIP) with an 11x11 Gaussian window of
sigma 1.5, K1=0.01, K2=0.03, averaged over the valid (unpadded) window positions and channels --
the same numbers as ``skimage.metrics.structural_similarity(..., gaussian_weights=True,
sigma=1.5, use_sample_covariance=False, data_range=1)``. Images smaller than the window use the
largest odd window that fits, with sigma scaled alike.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from aekit.modalities.base import MetricMeans

__all__ = ["METRICS", "MetricMeans", "bce", "image_metrics", "mse", "psnr", "ssim"]

METRICS = ("mse", "bce", "psnr", "ssim")
PSNR_CAP_DB = 100.0  # a perfect reconstruction would be +inf; cap it so means stay finite


def mse(recon: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return (recon.float() - target.float()).pow(2).flatten(1).mean(dim=1)


def bce(recon: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    eps = 1e-7  # PCA and filters can output exact 0 or 1: keep log() finite
    p = recon.float().clamp(eps, 1 - eps)
    t = target.float()
    return -(t * p.log() + (1 - t) * (1 - p).log()).flatten(1).mean(dim=1)


def psnr(recon: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    error = mse(recon, target).clamp_min(10 ** (-PSNR_CAP_DB / 10))
    return -10.0 * torch.log10(error)


def gaussian_window(size: int, sigma: float) -> torch.Tensor:
    coords = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    g = torch.exp(-(coords**2) / (2 * sigma**2))
    return g / g.sum()


def ssim(recon: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    x = recon.double()
    y = target.double()
    channels = x.shape[1]
    size = min(11, *x.shape[-2:])
    size -= 1 - size % 2  # odd
    sigma = 1.5 * size / 11
    g = gaussian_window(size, sigma)
    # The 2-D Gaussian is separable: a row pass then a column pass gives the same blur (to
    # ~1e-15 in float64) at 2*size instead of size^2 products per pixel, 5x faster here.
    rows = g.view(1, 1, 1, size).expand(channels, 1, 1, size).contiguous()
    cols = g.view(1, 1, size, 1).expand(channels, 1, size, 1).contiguous()

    def blur(t: torch.Tensor) -> torch.Tensor:
        # valid positions only, as skimage crops
        return F.conv2d(F.conv2d(t, rows, groups=channels), cols, groups=channels)

    c1, c2 = 0.01**2, 0.03**2
    mu_x, mu_y = blur(x), blur(y)
    var_x = blur(x * x) - mu_x**2
    var_y = blur(y * y) - mu_y**2
    cov = blur(x * y) - mu_x * mu_y
    s = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / (
        (mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2)
    )
    return s.flatten(1).mean(dim=1).float()


def image_metrics(recon: torch.Tensor, target: torch.Tensor) -> dict[str, torch.Tensor]:
    """Every metric for a batch: name -> (B,) tensor."""
    return {"mse": mse(recon, target), "bce": bce(recon, target), "psnr": psnr(recon, target),
            "ssim": ssim(recon, target)}  # fmt: skip
