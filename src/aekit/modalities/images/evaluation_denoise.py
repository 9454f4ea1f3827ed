"""What `aekit eval` measures of a denoiser beyond its mean at the noise it was trained on.

A user's images come with noise of unknown level, so a denoiser is scored at several fixed
levels (Gaussian sigma 0.1, 0.2, 0.3, 0.5; or, for a Poisson-Gaussian run, its lowest, middle
and highest photon count at its middle read noise), each beside the best classical denoiser
*tuned at that level* on validation images: a filter tuned for sigma 0.3 is a straw man at 0.1.
The grids here are wider than `classical.DENOISERS` (tuned around sigma 0.3) so that every
level's winner lies inside them; `tuned` says which filter and parameter won at each level.

Every draw is seeded (the evaluation seed, one stream per level), so the same run prints the
same table.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch

from aekit.modalities.images.classical import (
    gaussian_blur,
    median_filter,
    nl_means,
    tv_denoise,
)

GAUSSIAN_LEVELS = (0.1, 0.2, 0.3, 0.5)  # the levels: light to heavy
VAL_IMAGES = 300  # validation images each level's classical parameters are chosen on
# Wide enough that the winner lies inside at every level from 0.05 to 0.5 on Fashion-MNIST.
WIDE_DENOISERS = {
    "gaussian": (gaussian_blur, (0.3, 0.5, 0.75, 1.0, 1.5)),
    "median": (median_filter, (1, 3, 5)),
    "tv": (tv_denoise, (0.02, 0.05, 0.1, 0.15, 0.25, 0.4)),
    "nlm": (nl_means, (0.04, 0.08, 0.12, 0.175, 0.25, 0.35, 0.5)),
}


@dataclass
class DenoiseEvaluation:
    split: str
    images: int
    val_images: int
    trained_on: str  # the run's noise spec
    # one per level: noise, model_psnr, model_ssim, classical (name(param)), classical_psnr,
    # classical_ssim, gain_db (model - classical PSNR)
    rows: list[dict[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def table(self) -> str:
        heads = ("model PSNR", "SSIM", "classical", "PSNR", "SSIM", "gain dB")
        width = max(len(r["noise"]) for r in self.rows) + 2
        lines = [
            f"denoising at fixed levels, {self.images} {self.split} images (trained on "
            f"{self.trained_on}); classical = the best filter tuned at that level on "
            f"{self.val_images} validation images",
            "noise".ljust(width) + "".join(h.rjust(14) for h in heads),
        ]
        for r in self.rows:
            lines.append(
                r["noise"].ljust(width)
                + f"{r['model_psnr']:14.2f}{r['model_ssim']:14.3f}{r['classical']:>14}"
                + f"{r['classical_psnr']:14.2f}{r['classical_ssim']:14.3f}{r['gain_db']:+14.2f}"
            )
        return "\n".join(lines)


def fixed_levels(noise: Any) -> list[Any]:
    """The fixed-level corruptions a run trained on `noise` (a parsed spec) is scored at."""
    from aekit.modalities.images.noise import PoissonGaussian

    if isinstance(noise, PoissonGaussian):
        low, high = noise.peak
        sigma = (noise.sigma[0] + noise.sigma[1]) / 2
        peaks = sorted({low, math.sqrt(low * high), high})
        return [noise.at(round(p, 3), sigma) for p in peaks]
    if noise.kind == "gaussian":
        return [noise.at(level) for level in GAUSSIAN_LEVELS]
    return [noise.at(level) for level in sorted(set(noise.levels))]


def evaluate_denoising(
    model: torch.nn.Module,
    dataset: Any,
    split: str,
    rows: np.ndarray,
    task: Any,
    seed: int = 0,
    batch_size: int = 512,
) -> DenoiseEvaluation:
    """The model and the per-level tuned classical denoiser on `rows` at each fixed level."""
    from aekit.inference import batches
    from aekit.modalities.images.classical import choose_denoisers
    from aekit.modalities.images.metrics import psnr, ssim
    from aekit.training.trainer import derived_seed

    source = dataset.val if len(dataset.val) else dataset.train
    clean_val = next(batches(source.images[:VAL_IMAGES], VAL_IMAGES))
    clean = torch.cat(list(batches(rows, batch_size)))
    device = next(model.parameters()).device
    model.eval()
    table = []
    for i, noise in enumerate(fixed_levels(task.noise)):
        val_gen = torch.Generator().manual_seed(derived_seed(seed, i, 7))
        best = choose_denoisers(noise(clean_val, val_gen), clean_val, WIDE_DENOISERS)[0]
        test_gen = torch.Generator().manual_seed(derived_seed(seed, i, 8))
        noisy = noise(clean, test_gen)
        with torch.no_grad():
            ours = torch.cat([
                model(noisy[s : s + batch_size].to(device)).recon.float().cpu()
                for s in range(0, noisy.shape[0], batch_size)
            ])  # fmt: skip
        fn, _ = WIDE_DENOISERS[best.name]
        theirs = fn(noisy, best.param)
        table.append({
            "noise": str(noise),
            "model_psnr": float(psnr(ours, clean).mean()),
            "model_ssim": float(ssim(ours, clean).mean()),
            "classical": f"{best.name}({best.param:g})",
            "classical_psnr": float(psnr(theirs, clean).mean()),
            "classical_ssim": float(ssim(theirs, clean).mean()),
        })  # fmt: skip
        table[-1]["gain_db"] = table[-1]["model_psnr"] - table[-1]["classical_psnr"]
    return DenoiseEvaluation(
        split=split, images=int(clean.shape[0]), val_images=int(clean_val.shape[0]),
        trained_on=str(task.noise), rows=table,
    )  # fmt: skip
