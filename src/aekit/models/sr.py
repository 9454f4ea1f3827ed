"""Super-resolution network: a low-resolution image in, the image `scale` times larger out.

Super-resolution is a data task (data/pairs.py makes the low-res inputs); this file is only the
network, which must change the image size, so it is its own model family.

* ``arch="residual"`` (the default since issue 14): ESPCN's network learning only the
  *residual* over a bicubic upsample of the input, a global skip as in VDSR (Kim et al. 2016,
  "Accurate Image Super-Resolution Using Very Deep Convolutional Networks",
  https://arxiv.org/abs/1511.04587): the easy low frequencies come free, the convolutions (all
  still at the low resolution) spend themselves on edges and texture, and training converges
  faster. Its output is clipped to [0, 1] with a straight-through gradient (no sigmoid: the
  skip is in pixel space), so a pixel pushed past a bound still learns its way back.
* ``arch="espcn"`` (``"default"`` in runs saved before issue 14): ESPCN-style (Shi et al.
  2016, "Real-Time Single Image and Video Super-Resolution Using an Efficient Sub-Pixel
  Convolutional Neural Network", https://arxiv.org/abs/1609.05158): every convolution runs at
  the low resolution, and the last one emits C * scale^2 channels that a pixel shuffle
  rearranges into the large image. Cheap, because nothing runs at the high resolution.
* ``arch="lesson"``: the lesson's network: its conv encoder (16-8-8 with 2x2 max-pooling) with
  log2(scale) fewer pooling steps, so a 14x14 (x2) or 7x7 (x4) input reaches the same 4x4x8 code
  a 28x28 image does, then the lesson's decoder up to 28x28.

``image_shape`` is the shape of the *input* (low-res) image; outputs are (C, H*scale, W*scale).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from aekit.core.outputs import AEOutput
from aekit.errors import AekitError
from aekit.models.base import MAX_LAYERS, Autoencoder, check_image_shape, check_size
from aekit.models.conv_ae import ResizeTo, conv, halve
from aekit.models.losses import check_recon_loss

SCALES = (2, 4)
ARCHS = ("residual", "espcn", "default", "lesson")  # "default": espcn, as saved before issue 14


@dataclass
class SRConfig:
    image_shape: tuple[int, int, int] = (1, 14, 14)  # (C, h, w) of the low-res input
    scale: int = 2  # 2 or 4; must match the task's scale (the CLI sets both from --scale)
    # "residual" (sub-pixel convolution over a bicubic skip), "espcn" (sub-pixel convolution
    # alone; "default" is its name in runs saved before issue 14) or "lesson"
    arch: str = "residual"
    width: int = 64  # residual/espcn: channels of each low-res conv
    depth: int = 4  # residual/espcn: number of 3x3 convs, the last one sub-pixel
    loss: str = "mse"  # PSNR is what super-resolution is judged by, and MSE is what it measures

    def __post_init__(self) -> None:
        self.image_shape = check_image_shape(self.image_shape)
        if self.scale not in SCALES:
            raise AekitError(f"scale must be 2 or 4, got {self.scale!r}")
        if self.arch not in ARCHS:
            raise AekitError(f"unknown sr arch {self.arch!r}; choose residual, espcn or lesson")
        check_size("width", self.width)
        if not 2 <= self.depth <= MAX_LAYERS:
            raise AekitError(f"sr needs depth 2..{MAX_LAYERS}, got {self.depth}")
        check_recon_loss(self.loss)

    @property
    def output_shape(self) -> tuple[int, int, int]:
        c, h, w = self.image_shape
        return (c, h * self.scale, w * self.scale)


class SR(Autoencoder):
    def __init__(self, config: SRConfig) -> None:
        super().__init__()
        self.config = config
        c, h, w = config.image_shape
        big = (h * config.scale, w * config.scale)
        if config.arch == "lesson":
            self.encoder, self.decoder = lesson_sr(c, (h, w), big, config.scale)
        else:
            layers: list[nn.Module] = [conv(c, config.width), nn.ReLU()]
            for _ in range(config.depth - 2):
                layers += [conv(config.width, config.width), nn.ReLU()]
            self.encoder = nn.Sequential(*layers)  # (B, width, h, w)
            self.decoder = nn.Sequential(
                conv(config.width, c * config.scale**2),  # (B, C * s^2, h, w)
                nn.PixelShuffle(config.scale),  # (B, C, h * s, w * s) logits
            )

    @property
    def output_shape(self) -> tuple[int, int, int]:
        return self.config.output_shape

    def encode(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.encoder(x)  # (B, width, h, w): features at the low resolution

    def decode_logits(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.decoder(z)

    @property
    def residual(self) -> bool:
        return self.config.arch == "residual"

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> AEOutput:
        if not self.residual:
            return super().forward(x, y)
        z = self.encode(x, y)
        skip = F.interpolate(x, scale_factor=self.config.scale, mode="bicubic", align_corners=False)
        out = skip + self.decoder(z).to(skip.dtype)
        # Clipped forward, identity backward: outputs are pixels, and gradients never die.
        recon = out + (out.clamp(0.0, 1.0) - out).detach()
        return AEOutput(recon=recon, z=z, logits=None)

    def decode(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        if self.residual:
            # The skip needs the input, which a code does not hold: what a code decodes to is
            # the detail the network adds to the bicubic upsample, drawn around mid-gray.
            return (self.decoder(z) + 0.5).clamp(0.0, 1.0)
        return super().decode(z, y)


def lesson_sr(
    channels: int, size: tuple[int, int], big: tuple[int, int], scale: int
) -> tuple[nn.Sequential, nn.Sequential]:
    pools = 3 - int(math.log2(scale))  # the lesson pools 3 times from 28; the input is smaller
    enc: list[nn.Module] = []
    c_in, s = channels, size
    for i, width in enumerate((16, 8, 8)):
        enc += [conv(c_in, width), nn.ReLU()]
        if i < pools:
            enc.append(nn.MaxPool2d(2, ceil_mode=True))
            s = halve(s)
        c_in = width
    s1 = halve(big)
    third_padding = tuple(0 if 4 * a - 2 == t else 1 for a, t in zip(s, s1, strict=True))
    dec = nn.Sequential(
        conv(8, 8), nn.ReLU(), nn.Upsample(scale_factor=2),
        conv(8, 8), nn.ReLU(), nn.Upsample(scale_factor=2),
        conv(8, 16, padding=third_padding), nn.ReLU(), nn.Upsample(scale_factor=2),
        conv(16, channels), ResizeTo(big),  # logits
    )  # fmt: skip
    return nn.Sequential(*enc), dec
