"""Convolutional autoencoder for any image size and channel count.

Two architectures share one config:

* ``arch="lesson"`` reproduces the lesson's network exactly (Keras blog "Building Autoencoders in
  Keras", convolutional section): conv 16-8-8, each followed by 2x2 max-pooling with "same"
  padding, to a 4x4x8 code for 28x28 input; the decoder mirrors it with nearest upsampling, its
  third conv unpadded (16 -> 14) so 4 -> 8 -> 16 -> 14 -> 28; sigmoid output. 4,385 parameters
  for one channel. For sizes where that arithmetic does not land on the input size, the third
  conv is padded and the output resized to the input size (a documented departure).
* ``arch="default"`` is stronger and as cheap as we could make it: per level a stride-2 3x3
  conv + BatchNorm + SiLU, mirrored by 4x4 stride-2 transposed convs, then one 3x3 conv to the
  output. SiLU replaced ReLU in issue 14 (see ``ACT``): of the cheap changes measured there
  (benchmarks/embed_arch.py: residual blocks, a hidden layer in the bottleneck, an MSE loss,
  lr 4e-3, wider lower levels) it alone lowered the test MSE at no cost in parameters. The
  rest was chosen by measurement in issue 2's closing note: on Fashion-MNIST at latent 16 it
  reaches ~0.57x PCA(16)'s test MSE in 5 epochs at ~4,500 images/s; without BatchNorm the same
  net needs more than twice the epochs, and doubling every width halves the speed for ~8%
  lower MSE. ``norm`` swaps BatchNorm for GroupNorm (per sample, so a data-parallel run is the
  one-process run at any world size) or nothing; benchmarks/norm.py measured both worse in 5
  epochs (GroupNorm: 1.10x BatchNorm's test MSE, 0.43x its speed on one CPU thread).
  Without a bottleneck a 1x1 conv squeezes the last map to ``code_channels`` (4x4x8 = 128 numbers
  for 28x28 input, the lesson's code size, so the two archs compare at equal code size).

Either way ``latent_dim`` (optional) adds a dense bottleneck: the conv map is flattened and
projected to ``latent_dim`` numbers, and the decoder projects back. Without it the conv map is the
code (the lesson's 4x4x8 = 128 dimensions).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from aekit.core.outputs import AEOutput
from aekit.errors import AekitError
from aekit.models.base import (
    Autoencoder,
    check_image_shape,
    check_latent_dim,
    check_size,
    check_widths,
)
from aekit.models.losses import check_recon_loss

ARCHS = ("default", "lesson")  # what every family built on conv_networks takes
# conv-ae alone also takes "unet" (models/restore.py): skips and residual learning, no
# bottleneck; the default for --task denoise (ModelSpec.task_presets)
RESTORE_ARCHS = ("unet",)
NORMS = ("batch", "group", "none")  # the default arch's normalisation after each conv
# GroupNorm normalises each sample alone, so a rank's slice is normalised as in one process
# at any world size (docs/distributed.md). At most 8 groups: with the default widths 16-64
# that is 2-8 channels per group, enough for a stable mean and variance, few enough to keep
# the groups distinct features (Wu & He 2018, https://arxiv.org/abs/1803.08494).
GROUPS = 8


@dataclass
class ConvAEConfig:
    image_shape: tuple[int, int, int] = (1, 28, 28)  # (C, H, W); the CLI fills it from the data
    arch: str = "default"  # "lesson" = the lesson's exact 16-8-8 network; channels is then ignored
    channels: tuple[int, ...] = (16, 32, 64)  # default arch: width per level, each halves H and W
    latent_dim: int | None = None  # None: the conv feature map is the code; else a dense bottleneck
    code_channels: int = 8  # default arch without latent_dim: channels of the code map (lesson: 8)
    loss: str = "bce"  # "bce" (lesson: pixels as Bernoulli probabilities) or "mse"
    # Default arch: "batch" (BatchNorm), "group" (GroupNorm) or "none". BatchNorm by measurement
    # (benchmarks/norm.py): GroupNorm's runs do not depend on the world size, but cost 5-10%
    # test MSE and half the speed on a CPU (docs/distributed.md, "BatchNorm").
    norm: str = "batch"

    def __post_init__(self) -> None:
        self.image_shape = check_image_shape(self.image_shape)
        check_conv_arch(self, "conv-ae", (*ARCHS, *RESTORE_ARCHS))
        if self.arch in RESTORE_ARCHS and self.latent_dim is not None:
            raise AekitError(
                f"conv-ae arch {self.arch!r} has no bottleneck, so no latent_dim "
                f"(got {self.latent_dim}); drop --latent-dim or use arch default"
            )
        check_size("code_channels", self.code_channels)
        check_latent_dim(self.latent_dim, optional=True)
        check_recon_loss(self.loss)
        if self.arch in RESTORE_ARCHS and self.loss != "mse":
            raise AekitError(
                f"conv-ae arch {self.arch!r} predicts pixels, not logits, and trains on loss "
                f"mse, not {self.loss!r}: --set model.loss=mse"
            )


def check_conv_arch(config, model: str, archs: tuple[str, ...] = ARCHS) -> None:
    """The checks every config built on conv_networks shares: a known `arch` and `norm`, and
    `channels` as valid widths (normalised to a tuple of ints in place)."""
    if config.arch not in archs:
        raise AekitError(f"unknown {model} arch {config.arch!r}; choose one of {archs}")
    if config.norm not in NORMS:
        raise AekitError(f"unknown {model} norm {config.norm!r}; choose one of {NORMS}")
    config.channels = check_widths("channels", config.channels)


def halve(size: tuple[int, int]) -> tuple[int, int]:
    """Spatial size after a stride-2 conv (k3, p1) or a 'same' 2x2 max-pool: ceil(n / 2)."""
    return (math.ceil(size[0] / 2), math.ceil(size[1] / 2))


def conv(c_in: int, c_out: int, stride: int = 1, padding: int | tuple[int, int] = 1) -> nn.Conv2d:
    return nn.Conv2d(c_in, c_out, kernel_size=3, stride=stride, padding=padding)


class Bottleneck(nn.Module):
    """Dense projection between a (B, C, h, w) map and a (B, latent_dim) code."""

    def __init__(self, map_shape: tuple[int, int, int], latent_dim: int) -> None:
        super().__init__()
        self.map_shape = map_shape
        self.down = nn.Linear(math.prod(map_shape), latent_dim)
        self.up = nn.Linear(latent_dim, math.prod(map_shape))

    def encode(self, h: torch.Tensor) -> torch.Tensor:
        return self.down(h.flatten(1))  # (B, latent_dim): linear, like a PCA code

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return F.relu(self.up(z)).view(z.shape[0], *self.map_shape)  # (B, C, h, w)


class ConvAE(Autoencoder):
    def __init__(self, config: ConvAEConfig) -> None:
        super().__init__()
        self.config = config
        self.restorer = None
        if config.arch in RESTORE_ARCHS:  # no encoder/decoder split: models/restore.py
            from aekit.models.restore import UNet

            self.restorer = UNet(config.image_shape, config.channels, config.norm)
            return
        code_channels = None if config.latent_dim is not None else config.code_channels
        self.encoder, self.decoder, map_shape = conv_networks(config, code_channels)
        self.bottleneck = (
            Bottleneck(map_shape, config.latent_dim) if config.latent_dim is not None else None
        )

    @property
    def decodable(self) -> bool:
        """Whether `decode` works from a code alone (not through a U-Net's skips)."""
        return self.restorer is None

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> AEOutput:
        if self.restorer is None:
            return super().forward(x, y)
        pixels, deepest = self.restorer.restore(x)  # a residual in pixel space: no logits
        recon = pixels if self.training else pixels.clamp(0.0, 1.0)  # MSE needs no clamp
        return AEOutput(recon=recon, z=deepest)

    def encode(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        if self.restorer is not None:
            return self.restorer.features(x)[-1]  # the deepest map: a view, not a code
        h = self.encoder(x)  # (B, C_code, h, w)
        return h if self.bottleneck is None else self.bottleneck.encode(h)

    def decode_logits(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        if self.restorer is not None:
            from aekit.models.restore import refuse_decode

            raise refuse_decode(self.config.arch)
        h = z if self.bottleneck is None else self.bottleneck.decode(z)
        return self.decoder(h)  # (B, C, H, W) logits


class ResizeTo(nn.Module):
    """Nearest-neighbour resize to a fixed size (undoes the ceil() of odd sizes exactly)."""

    def __init__(self, size: tuple[int, int]) -> None:
        super().__init__()
        self.size = size

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        if tuple(h.shape[-2:]) == self.size:
            return h
        return F.interpolate(h, size=self.size, mode="nearest")


def conv_networks(
    config, code_channels: int | None = None
) -> tuple[nn.Sequential, nn.Sequential, tuple[int, int, int]]:
    """Encoder, decoder (to logits) and code-map shape for `config.arch` ("lesson" or
    "default") on `config.image_shape`; shared by conv-ae and the convolutional VAEs."""
    c, h, w = config.image_shape
    if config.arch == "lesson":
        return lesson_networks(c, (h, w))
    return default_networks(c, (h, w), config.channels, code_channels, config.norm)


def lesson_networks(
    channels: int, size: tuple[int, int]
) -> tuple[nn.Sequential, nn.Sequential, tuple[int, int, int]]:
    s1 = halve(size)
    s3 = halve(halve(s1))
    encoder = nn.Sequential(
        conv(channels, 16), nn.ReLU(), nn.MaxPool2d(2, ceil_mode=True),  # (B, 16, H/2, W/2)
        conv(16, 8), nn.ReLU(), nn.MaxPool2d(2, ceil_mode=True),  # (B, 8, H/4, W/4)
        conv(8, 8), nn.ReLU(), nn.MaxPool2d(2, ceil_mode=True),  # (B, 8, H/8, W/8): the code
    )  # fmt: skip
    # The lesson's unpadded conv turns 16 into 14 so that 28 comes back out; pad where it would not.
    third_padding = tuple(0 if 4 * s - 2 == t else 1 for s, t in zip(s3, s1, strict=True))
    decoder = nn.Sequential(
        conv(8, 8), nn.ReLU(), nn.Upsample(scale_factor=2),
        conv(8, 8), nn.ReLU(), nn.Upsample(scale_factor=2),
        conv(8, 16, padding=third_padding), nn.ReLU(), nn.Upsample(scale_factor=2),
        conv(16, channels), ResizeTo(size),  # the sigmoid is applied by decode()
    )  # fmt: skip
    return encoder, decoder, (8, *s3)


def group_count(channels: int) -> int:
    """GroupNorm's groups for `channels`: the most, up to GROUPS, that divide it with at least
    two channels each. One channel per group would be InstanceNorm, which discards each map's
    mean (an image's brightness) and leaves the conv bias before it without effect: its
    gradient is then rounding noise, which Adam turns into full-size steps that differ with
    the world size."""
    fits = [g for g in range(1, GROUPS + 1) if channels % g == 0 and channels // g >= 2]
    return max(fits, default=1)


def norm_layer(norm: str, channels: int) -> list[nn.Module]:
    """The normalisation after a conv: BatchNorm (batch statistics), GroupNorm (per sample,
    `group_count` groups) or none."""
    if norm == "batch":
        return [nn.BatchNorm2d(channels)]
    if norm == "group":
        return [nn.GroupNorm(group_count(channels), channels)]
    return []


def down(c_in: int, c_out: int, norm: str, act: type[nn.Module] = nn.ReLU) -> list[nn.Module]:
    """Halve H and W with a learned stride-2 conv; normalising roughly halves the epochs needed."""
    return [conv(c_in, c_out, stride=2), *norm_layer(norm, c_out), act()]


def up(
    c_in: int, c_out: int, size: tuple[int, int], norm: str, act: type[nn.Module] = nn.ReLU
) -> list[nn.Module]:
    """Double H and W with a 4x4 stride-2 transposed conv (even overlap, so no checkerboard),
    then crop the extra row/column that ceil() added on the way down."""
    return [
        nn.ConvTranspose2d(c_in, c_out, kernel_size=4, stride=2, padding=1), CropTo(size),
        *norm_layer(norm, c_out), act(),
    ]  # fmt: skip


class CropTo(nn.Module):
    def __init__(self, size: tuple[int, int]) -> None:
        super().__init__()
        self.size = size

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return h[..., : self.size[0], : self.size[1]]


# The default arch's activation. SiLU (x * sigmoid(x); Hendrycks & Gimpel 2016,
# https://arxiv.org/abs/1606.08415; Elfwing et al. 2017), as in the Stable Diffusion and VQGAN
# autoencoders, by measurement (benchmarks/embed_arch.py, issue 14): smooth and never quite
# zero, it loses no unit to a dead ReLU, which a code of 16 numbers feeding a narrow decoder
# cannot spare. The dense bottleneck keeps its ReLU (shared with the lesson arch).
ACT: type[nn.Module] = nn.SiLU


def default_networks(
    channels: int,
    size: tuple[int, int],
    widths: tuple[int, ...],
    code_channels: int | None,
    norm: str = "batch",
) -> tuple[nn.Sequential, nn.Sequential, tuple[int, int, int]]:
    """Encoder, decoder and code-map shape; `code_channels` squeezes the map with a 1x1 conv.
    SiLU after every conv (`ACT`, see there)."""
    sizes = [size]  # spatial size entering each level, to undo ceil() exactly on the way up
    enc: list[nn.Module] = []
    c_in = channels
    for width in widths:
        enc += down(c_in, width, norm, ACT)  # (B, width, ceil(h/2), ceil(w/2))
        sizes.append(halve(sizes[-1]))
        c_in = width
    dec: list[nn.Module] = []
    map_channels = widths[-1]
    if code_channels is not None:  # the map itself is the code: squeeze it, linearly
        enc.append(nn.Conv2d(widths[-1], code_channels, kernel_size=1))
        dec += [nn.Conv2d(code_channels, widths[-1], kernel_size=1), ACT()]
        map_channels = code_channels
    for i in reversed(range(len(widths))):
        dec += up(widths[i], widths[max(i - 1, 0)], sizes[i], norm, ACT)
    dec.append(conv(widths[0], channels))  # (B, C, H, W) logits
    return nn.Sequential(*enc), nn.Sequential(*dec), (map_channels, *sizes[-1])
