"""What `aekit eval` measures of a super-resolution model beyond the task's own mix: one row per
downscaling kernel.

A user's low-res image was shrunk by a kernel the model may never have seen, so one PSNR on the
training degradation says little (issue 14: +5.5 dB over bicubic on the training kernel,
+2.5 dB on 2x2 averaging). Here every test image is shrunk by each kernel in turn, rounded to
8 bits as a PNG stores it, and the model, bicubic and bilinear upsampling all get that same
input:

* ``area``, ``bilinear``, ``bicubic``: the kernels blind training draws from (tasks.downscale);
* ``lanczos``: Pillow's antialiased Lanczos-3, which no training draws: the unseen kernel;
* ``blur``: a Gaussian of the middle of the run's ``blur=`` range, then the box average; only
  for runs that trained on it.

No draw is random, so the same run prints the same table.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch

from aekit.modalities.images.classical import upsample
from aekit.modalities.images.degrade import Degradations, parse_degradations, shrink
from aekit.modalities.images.metrics import psnr, ssim

KERNELS = ("area", "bilinear", "bicubic", "lanczos")
SEEN = ("area", "bilinear", "bicubic", "blur")  # what training can draw; lanczos never
BASELINES = ("bicubic", "bilinear")


def lanczos_shrink(x: torch.Tensor, scale: int) -> torch.Tensor:
    """(B, C, H, W) -> (B, C, H/scale, W/scale) by Pillow's Lanczos-3 (antialiased), per
    channel on 32-bit float images so nothing is rounded before the caller chooses to."""
    from PIL import Image

    b, c, h, w = x.shape
    pixels = x.detach().to("cpu", torch.float32).numpy()
    out = np.empty((b, c, h // scale, w // scale), dtype=np.float32)
    for i in range(b):
        for j in range(c):
            image = Image.fromarray(pixels[i, j], mode="F")
            out[i, j] = np.asarray(image.resize((w // scale, h // scale), Image.LANCZOS))
    return torch.from_numpy(out).to(x.device).clamp_(0.0, 1.0)


def low_res(x: torch.Tensor, scale: int, kernel: str, spec: Degradations) -> torch.Tensor:
    """`x` shrunk by one named kernel, rounded to 8 bits: what a user's low-res PNG holds."""
    if kernel == "lanczos":
        small = lanczos_shrink(x, scale)
    else:
        sigma = None
        if kernel == "blur":
            sigma = torch.full((x.shape[0],), sum(spec.blur) / 2, dtype=torch.float64)
        small = shrink(x, scale, kernel, sigma)
    return small.mul(255.0).round_().div_(255.0)


@dataclass
class SREvaluation:
    split: str
    images: int
    scale: int
    trained_on: str  # the run's degradation: "random: kernels=..." or one kernel
    # kernel -> {model_psnr, model_ssim, bicubic_psnr, ..., gain_db (model - bicubic PSNR)}
    kernels: dict[str, dict[str, float]]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def table(self) -> str:
        heads = ("model", "bicubic", "bilinear")
        width = max(10, *(len(k) + 9 for k in self.kernels))
        lines = [
            f"x{self.scale} super-resolution per downscaling kernel ({self.images} {self.split} "
            f"images, each kernel's low-res input rounded to 8 bits; trained on {self.trained_on}"
            "; * = never seen in training)",
            "kernel".ljust(width)
            + "".join(f"{h} PSNR".rjust(15) for h in heads)
            + "".join(f"{h} SSIM".rjust(15) for h in heads)
            + "gain dB".rjust(10),
        ]
        for name, row in self.kernels.items():
            label = name + ("" if row["seen"] else " *")
            lines.append(
                label.ljust(width)
                + "".join(f"{row[f'{h}_psnr']:15.2f}" for h in heads)
                + "".join(f"{row[f'{h}_ssim']:15.4f}" for h in heads)
                + f"{row['gain_db']:+10.2f}"
            )
        return "\n".join(lines)


def trained_kernels(config: Any) -> tuple[tuple[str, ...], Degradations, str]:
    """The kernels a superres task config trains on, its parsed spec, and words for the table."""
    spec = parse_degradations(getattr(config, "degradations", "kernels=bicubic"))
    method = getattr(config, "downscale", "bicubic")
    if method == "random":
        return spec.kernels, spec, f"random {spec}"
    extra = "".join(f";{p}" for p in str(spec).split(";") if p.startswith(("noise", "jpeg")))
    return (method,), spec, f"{method}{extra}"


@torch.no_grad()
def evaluate_sr(
    model: Any, rows: np.ndarray, task: Any, split: str = "test", batch_size: int = 500
) -> SREvaluation:
    """The per-kernel table for an sr model on raw uint8 rows (N, C, H, W) of `split`."""
    from aekit.core.random import module_device
    from aekit.inference import batches

    config = task.config
    scale = int(config.scale)
    seen, spec, words = trained_kernels(config)
    names = [*KERNELS, *(["blur"] if "blur" in seen else [])]
    device = module_device(model)
    model.eval()
    sums: dict[str, dict[str, float]] = {k: {} for k in names}
    count = 0
    for x in batches(rows, batch_size):
        if config.patch is not None:  # the model was built for crops: score the centre crop
            p, (h, w) = config.patch, x.shape[-2:]
            x = x[..., (h - p) // 2 : (h - p) // 2 + p, (w - p) // 2 : (w - p) // 2 + p]
        count += x.shape[0]
        for kernel in names:
            small = low_res(x, scale, kernel, spec)
            outputs = {
                "model": model(small.to(device)).recon.float().cpu(),
                **{m: upsample(small, scale, m) for m in BASELINES},
            }
            for who, out in outputs.items():
                for metric, fn in (("psnr", psnr), ("ssim", ssim)):
                    key = f"{who}_{metric}"
                    sums[kernel][key] = sums[kernel].get(key, 0.0) + float(fn(out, x).sum())
    table: dict[str, dict[str, float]] = {}
    for kernel in names:
        row = {k: v / max(count, 1) for k, v in sums[kernel].items()}
        row["gain_db"] = row["model_psnr"] - row["bicubic_psnr"]
        row["seen"] = kernel in seen
        table[kernel] = row
    return SREvaluation(split=split, images=count, scale=scale, trained_on=words, kernels=table)
