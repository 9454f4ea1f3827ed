"""Image-to-image restoration network: conv-ae's ``arch="unet"``, the default for denoising.

A small U-Net (Ronneberger et al. 2015, https://arxiv.org/abs/1505.04597) with residual
learning (Zhang et al. 2017, DnCNN, https://arxiv.org/abs/1608.03981): the network predicts a
correction to its own input rather than the clean image, so an identity map costs it nothing and
every layer spends its capacity on the noise. A denoiser needs no bottleneck: the detail a
bottleneck throws away is exactly what a denoiser must keep, and the skip connections carry it
past the coarse levels, which see enough context to tell noise from texture.

Layout for ``channels=(16, 32, 64)`` on 28x28 (the default arch's widths, so the two compare at
equal width):

    stem    3x3 conv C -> 16, full resolution          (B, 16, 28, 28)  skip 0
    down    3x3 stride-2 conv 16 -> 32                 (B, 32, 14, 14)  skip 1
    down    3x3 stride-2 conv 32 -> 64                 (B, 64, 7, 7)    the deepest map
    up      4x4 stride-2 transposed conv 64 -> 32, + skip 1
    up      4x4 stride-2 transposed conv 32 -> 16, + skip 0
    tail    3x3 conv 16 -> C: the residual r, zero at init
    output  x + r, in pixel space (clamped to [0, 1] outside training)

Each conv but the tail is followed by the config's normalisation and a ReLU. Skips are added, not
concatenated (as in ResNet-style U-Nets), which keeps every conv at the default arch's widths.

The residual is added in pixel space, as DnCNN does, and the net trains on MSE (the loss PSNR
measures). In the design search (3 epochs on 20,000 Fashion-MNIST images, blind, one thread;
figures in the README's denoising section) this beat a residual added to the input's logit under BCE
(4 epochs) by 0.5-1.2 dB at every sigma from 0.1 to 0.5, and a plain U-Net (sigmoid of the
tail over the last map concatenated with the input) by 0.02-0.8 dB in PSNR. A logit residual
must swing hugely where noisy pixels clip at 0 or 1 (logit 0.01 = -4.6); a pixel residual is
as large as the noise, whatever the pixel. During training the output is left
unclamped, so the loss has a gradient everywhere.

The deepest map is what `encode` returns (for `code_shape` and `aekit encode`), but it is not a
code: the decoder cannot work from it without the skips, so `decode` alone is refused.
"""

from __future__ import annotations

import torch
from torch import nn

from aekit.errors import AekitError
from aekit.models.conv_ae import CropTo, conv, halve, norm_layer


class UNet(nn.Module):
    """(B, C, H, W) in [0, 1] -> (B, C, H, W) pixels, unclamped; any H, W >= 1 (sizes undone
    exactly)."""

    def __init__(self, image_shape: tuple[int, int, int], widths: tuple[int, ...], norm: str):
        super().__init__()
        c, h, w = image_shape
        sizes = [(h, w)]  # spatial size of each level
        self.stem = nn.Sequential(conv(c, widths[0]), *norm_layer(norm, widths[0]), nn.ReLU())
        downs = []
        for c_in, c_out in zip(widths, widths[1:], strict=False):
            downs.append(
                nn.Sequential(conv(c_in, c_out, stride=2), *norm_layer(norm, c_out), nn.ReLU())
            )
            sizes.append(halve(sizes[-1]))
        self.downs = nn.ModuleList(downs)
        ups = []
        for i in reversed(range(1, len(widths))):
            ups.append(
                nn.Sequential(
                    nn.ConvTranspose2d(widths[i], widths[i - 1], 4, stride=2, padding=1),
                    CropTo(sizes[i - 1]), *norm_layer(norm, widths[i - 1]), nn.ReLU(),
                )
            )  # fmt: skip
        self.ups = nn.ModuleList(ups)
        self.tail = conv(widths[0], c)
        nn.init.zeros_(self.tail.weight)  # start as the identity: r = 0, output = input
        nn.init.zeros_(self.tail.bias)

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Each level's map, full resolution first; the last is the deepest."""
        maps = [self.stem(x)]
        for down in self.downs:
            maps.append(down(maps[-1]))
        return maps

    def restore(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(x + r (B, C, H, W), unclamped; the deepest map (B, C_last, h, w))."""
        maps = self.features(x)
        h = maps[-1]
        for up, skip in zip(self.ups, reversed(maps[:-1]), strict=True):
            h = up(h) + skip
        return x + self.tail(h), maps[-1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.restore(x)[0]  # (B, C, H, W) pixels, unclamped


def refuse_decode(arch: str) -> AekitError:
    return AekitError(
        f"conv-ae arch {arch!r} has skip connections: its deepest map is no code the decoder "
        "can work from alone, so it cannot decode codes (sample, interpolate, the explorer's "
        "codes); train arch default for a code"
    )
