"""(input, target) builders: what a model learns to undo is a property of the data, not the model.

A task takes a clean float batch (B, C, H, W) in [0, 1] and a torch.Generator and returns
(input, target). Plain autoencoding is `identity`; denoising and super-resolution are tasks too
(DESIGN.md: data tasks, not model subclasses), so any model family can learn either. Each task
also has ``prepare(raw, train)``, which makes that float batch from the uint8 rows a dataset
stores (the trainer calls it: it knows nothing of pixels; see aekit.modalities.base).

Every random draw comes from the generator the caller passes, never from torch's global RNG:
the trainer seeds it per epoch and saves its state in checkpoints, so a run is reproducible and
resumes bit for bit. The trainer calls a task once per batch, so each batch gets fresh noise.

Noise draws (noise.py) are made on the generator's device and then moved to the batch's, so a
CPU generator works with a GPU batch and the same seed gives the same noise on any device.

    task = build_task(TaskConfig(name="denoise", noise="salt-pepper:0.1"))
    inputs, target = task(x, torch.Generator().manual_seed(0))   # inputs corrupted, target = x

Super-resolution follows SRCNN and ESPCN (Dong et al. 2014, https://arxiv.org/abs/1501.00092;
Shi et al. 2016, https://arxiv.org/abs/1609.05158): the low-res input is the clean image
downscaled. It is antialiased, as a camera's optics would be; a model trained on aliased inputs
learns to undo artifacts that real low-res images do not have.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F

from aekit.config import from_dict
from aekit.errors import AekitError
from aekit.modalities.base import Task, identity
from aekit.modalities.images.degrade import DEFAULT_DEGRADATIONS, degrade, parse_degradations
from aekit.modalities.images.noise import (
    NOISE_FORMS,
    Corruption,
    Noise,
    PoissonGaussian,
    add_gaussian_noise,
    add_lesson_noise,
    check_batch,
    parse_noise,
    random_mask,
    salt_and_pepper,
)

if TYPE_CHECKING:
    from aekit.training.config import TrainConfig

# Defined elsewhere, still importable from here, where they lived before.
__all__ = [
    "NOISE_FORMS", "Corruption", "Noise", "Task", "add_gaussian_noise", "add_lesson_noise",
    "identity", "parse_noise", "random_mask", "salt_and_pepper",
]  # fmt: skip

SCALES = (2, 4)  # what the sr model family supports
DOWNSCALE_METHODS = ("area", "bilinear", "bicubic")


@dataclass
class TaskConfig:
    """The image task table of a run (`RunConfig.task`), checked on construction."""

    name: str = "identity"  # identity | denoise | superres: how (input, target) pairs are made
    # denoise: gaussian|lesson:STD, salt-pepper|mask:FRACTION, each a value or a range LO-HI
    # drawn per image, or poisson-gaussian:PEAK,SIGMA (noise.py). A range by default: blind
    # denoising (DnCNN-B), one model for the light and the heavy noise a user's images carry.
    noise: str = "gaussian:0.05-0.5"
    scale: int = 2  # superres: the upscaling factor, 2 or 4
    # superres: how low-res inputs are made: random (blind: a kernel per image drawn from
    # `degradations`) or one fixed kernel, area | bilinear | bicubic. Random is the default since
    # issue 14: a model trained on one kernel loses half its gain on another. Runs saved before
    # it recorded their kernel ("bicubic") and keep it.
    downscale: str = "random"
    # superres: the blind degradations (aekit.modalities.images.degrade): the kernels `random`
    # draws from, and optional noise and JPEG applied after any kernel, random or fixed.
    degradations: str = DEFAULT_DEGRADATIONS
    patch: int | None = None  # train on random patch x patch crops (large or RGB photos)
    # Dynamic binarization: each pixel drawn as Bernoulli(intensity), afresh every batch, so a
    # Bernoulli decoder models binary images, as in the NLLs the literature reports.
    binarize: bool = False

    def __post_init__(self) -> None:
        # `name` is checked by build_task, not here: the trainer records hand-written tasks
        # under their function name, and such a run's config must still load.
        if self.scale not in SCALES or isinstance(self.scale, bool):
            raise AekitError(f"task.scale must be 2 or 4, got {self.scale!r}")
        if self.downscale not in (*DOWNSCALE_METHODS, "random"):
            raise AekitError(
                f"task.downscale must be one of {', '.join(DOWNSCALE_METHODS)} or random, "
                f"got {self.downscale!r}"
            )
        parse_degradations(self.degradations)  # one line naming task.degradations
        parse_noise(self.noise)  # raises AekitError naming the spec and the allowed forms
        if self.patch is not None and (isinstance(self.patch, bool) or self.patch < 1):
            raise AekitError(f"task.patch must be a size >= 1, got {self.patch!r}")


def describe_downscale(table: TaskConfig | dict[str, Any]) -> str:
    """How a superres task makes its inputs, in words: "bicubic", or "a random kernel per image
    (kernels=...)", with any noise and JPEG. A saved run's table (a dict) is read as it loads."""
    config = table if isinstance(table, TaskConfig) else task_config(dict(table))
    spec = parse_degradations(config.degradations)
    extra = [p for p in str(spec).split(";") if p.startswith(("noise", "jpeg"))]
    if config.downscale == "random":
        return f"a random kernel per image ({spec})"
    return ";".join([config.downscale, *extra])


def task_config(table: TaskConfig | str | dict[str, Any], where: str = "task") -> TaskConfig:
    """A TaskConfig from a run's task table (unknown keys and wrong types named by `where`),
    a bare task name, or a TaskConfig."""
    if isinstance(table, str):
        return TaskConfig(name=table)
    return from_dict(TaskConfig, table, where=where)


# --- preparing raw rows -------------------------------------------------------------------------


def to_unit(raw: torch.Tensor, channels_last: bool = False) -> torch.Tensor:
    """uint8 (B, C, H, W) -> float32 in [0, 1]; with `channels_last`, in the NHWC memory format
    that convolutions run about 2x faster in on this CPU (train.channels_last)."""
    x = raw.float().div_(255.0)
    if channels_last and x.dim() == 4:
        x = x.contiguous(memory_format=torch.channels_last)
    return x


def prepare(raw: torch.Tensor, train: TrainConfig | None = None) -> torch.Tensor:
    """The image modality's preparation of raw rows: what every image task takes."""
    return to_unit(raw, channels_last=train is not None and train.channels_last)


# --- downscaling --------------------------------------------------------------------------------


def _check_divisible(h: int, w: int, scale: int) -> None:
    if h % scale or w % scale:
        size = max(scale, min(h, w) // scale * scale)
        raise AekitError(
            f"image size {h}x{w} is not divisible by the super-resolution scale {scale}; "
            f"use --set data.image_size={size} (or a patch size that is a multiple of {scale})"
        )


def _check_scale(scale: int) -> None:
    if isinstance(scale, bool) or not isinstance(scale, int) or scale < 1:
        raise AekitError(f"scale must be a positive integer such as 2 or 4, got {scale!r}")


def downscale(x: torch.Tensor, scale: int, method: str = "bicubic") -> torch.Tensor:
    """(B, C, H, W) -> (B, C, H/scale, W/scale) in [0, 1].

    ``area`` averages each scale x scale block (exact, no ringing); ``bilinear`` and ``bicubic``
    use antialiased interpolation, as image libraries do when shrinking, clamped back to [0, 1]
    because bicubic weights are partly negative and overshoot at edges.
    """
    _check_scale(scale)
    if method not in DOWNSCALE_METHODS:
        raise AekitError(
            f"unknown downscale method {method!r}; choose one of {', '.join(DOWNSCALE_METHODS)}"
        )
    check_batch(x)
    h, w = int(x.shape[-2]), int(x.shape[-1])
    _check_divisible(h, w, scale)
    if method == "area":
        return F.avg_pool2d(x, scale)
    size = (h // scale, w // scale)
    small = F.interpolate(x, size=size, mode=method, align_corners=False, antialias=True)
    return small.clamp_(0.0, 1.0)


# --- tasks --------------------------------------------------------------------------------------


def _shape3(image_shape: tuple[int, int, int]) -> tuple[int, int, int]:
    if len(image_shape) != 3:
        raise AekitError(f"image_shape must be (C, H, W), got {tuple(image_shape)}")
    c, h, w = image_shape
    return int(c), int(h), int(w)


@dataclass(frozen=True)
class IdentityTask:
    """input = target = x: the plain autoencoder, with a config so runs record it."""

    prepare = staticmethod(prepare)  # stored uint8 rows -> the float batch it takes

    config: TaskConfig = field(default_factory=TaskConfig)

    def __call__(
        self, x: torch.Tensor, generator: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor]:
        return identity(x, generator)

    def input_shape(self, image_shape: tuple[int, int, int]) -> tuple[int, int, int]:
        """The model sees the images as they are."""
        return _shape3(image_shape)


@dataclass(frozen=True)
class DenoiseTask:
    """input = a corrupted copy of x (``config.noise``), target = x."""

    prepare = staticmethod(prepare)  # stored uint8 rows -> the float batch it takes

    config: TaskConfig = field(default_factory=lambda: TaskConfig(name="denoise"))
    # Parsed once here, so a bad spec fails before training rather than at the first batch.
    noise: Noise | PoissonGaussian = field(init=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "noise", parse_noise(self.config.noise))

    def __call__(
        self, x: torch.Tensor, generator: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor]:
        check_batch(x)  # gaussian noise alone would accept any shape
        return self.noise(x, generator), x

    def input_shape(self, image_shape: tuple[int, int, int]) -> tuple[int, int, int]:
        """Noise does not change the shape."""
        return _shape3(image_shape)


@dataclass(frozen=True)
class SuperResTask:
    """input = x downscaled by ``config.scale``, target = x: by a kernel drawn per image from
    ``config.degradations`` (``downscale="random"``, blind) or by one fixed kernel, then the
    spec's noise and JPEG if any (degrade.py)."""

    prepare = staticmethod(prepare)  # stored uint8 rows -> the float batch it takes

    config: TaskConfig = field(default_factory=lambda: TaskConfig(name="superres"))
    degradations: Any = field(init=False, compare=False)  # the parsed spec

    def __post_init__(self) -> None:
        object.__setattr__(self, "degradations", parse_degradations(self.config.degradations))

    def __call__(
        self, x: torch.Tensor, generator: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor]:
        check_batch(x)
        method = self.config.downscale
        spec = self.degradations
        if method != "random" and spec.noise is None and spec.jpeg is None:
            # A fixed kernel alone is deterministic: nothing is drawn, as before issue 14.
            return downscale(x, self.config.scale, method), x
        _check_divisible(int(x.shape[-2]), int(x.shape[-1]), self.config.scale)
        kernel = None if method == "random" else method
        return degrade(x, self.config.scale, spec, generator, kernel=kernel), x

    def input_shape(self, image_shape: tuple[int, int, int]) -> tuple[int, int, int]:
        """(C, H, W) -> (C, H/scale, W/scale): what an sr model's ``image_shape`` must be."""
        c, h, w = _shape3(image_shape)
        _check_divisible(h, w, self.config.scale)
        return (c, h // self.config.scale, w // self.config.scale)


TASKS: dict[str, type[IdentityTask | DenoiseTask | SuperResTask]] = {
    "identity": IdentityTask,
    "denoise": DenoiseTask,
    "superres": SuperResTask,
}


@dataclass(frozen=True)
class BinarizeTask:
    """`task` applied to a dynamically binarized batch: pixel ~ Bernoulli(intensity), drawn
    from the trainer's generator, so every batch (and a resumed run) gets its own fresh draw."""

    prepare = staticmethod(prepare)  # stored uint8 rows -> the float batch it takes

    task: IdentityTask | DenoiseTask | SuperResTask

    @property
    def config(self) -> TaskConfig:
        return self.task.config

    def __call__(
        self, x: torch.Tensor, generator: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor]:
        return self.task(torch.bernoulli(x, generator=generator), generator)

    def input_shape(self, image_shape: tuple[int, int, int]) -> tuple[int, int, int]:
        return self.task.input_shape(image_shape)


@dataclass(frozen=True)
class PatchTask:
    """`task` applied to a random patch x patch crop of each image (a new place every batch):
    how large photos and RGB sets train at a fixed, cheap size."""

    prepare = staticmethod(prepare)  # stored uint8 rows -> the float batch it takes

    task: IdentityTask | DenoiseTask | SuperResTask | BinarizeTask

    @property
    def config(self) -> TaskConfig:
        return self.task.config

    def __call__(
        self, x: torch.Tensor, generator: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor]:
        return self.task(random_crops(x, self.config.patch, generator), generator)

    def input_shape(self, image_shape: tuple[int, int, int]) -> tuple[int, int, int]:
        c, h, w = _shape3(image_shape)
        p = self.config.patch
        if p > h or p > w:
            raise AekitError(
                f"images of {w}x{h} are smaller than the patch size {p}; choose task.patch <= "
                f"{min(h, w)} or larger images"
            )
        return self.task.input_shape((c, p, p))


def random_crops(x: torch.Tensor, size: int, generator: torch.Generator) -> torch.Tensor:
    """One random size x size crop per image: (B, C, H, W) -> (B, C, size, size)."""
    check_batch(x)
    b, _, h, w = x.shape
    if size > h or size > w:
        raise AekitError(f"images of {w}x{h} are smaller than the patch size {size}")
    tops = torch.randint(0, h - size + 1, (b,), generator=generator, device=generator.device)
    lefts = torch.randint(0, w - size + 1, (b,), generator=generator, device=generator.device)
    return torch.stack([
        x[i, :, t : t + size, left : left + size]
        for i, (t, left) in enumerate(zip(tops.tolist(), lefts.tolist(), strict=True))
    ])  # fmt: skip


def build_task(
    config: TaskConfig | str | dict[str, Any],
) -> IdentityTask | DenoiseTask | SuperResTask | BinarizeTask | PatchTask:
    """The task a config names; a bare name (``"denoise"``) uses that task's defaults, and a
    run's task table (a dict) is checked first."""
    config = task_config(config)
    name = config.name
    if name not in TASKS:
        close = difflib.get_close_matches(name, TASKS, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise AekitError(f"unknown task {name!r}{hint}; known tasks: {', '.join(TASKS)}")
    task = TASKS[name](config)
    if config.binarize:
        task = BinarizeTask(task)
    return task if config.patch is None else PatchTask(task)
