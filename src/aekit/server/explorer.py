"""The explorer's model side, with no HTTP in it: a run loaded once, its test set's codes, and
every operation the web page needs (decode a code, encode an image, interpolate, apply the
model to an upload), each returning arrays or PNG bytes. A melody run has the same codes (test
windows instead of test images); what its codes decode to lives in server/melody.py.

Keeping this free of FastAPI lets the benchmark time a decode without a server, and lets the
app module be nothing but routing, validation and status codes.

Latency: one decode is one small forward pass, so fixed costs dominate; calls run under
`torch.inference_mode()` and one lock. The lock serialises the model: concurrent requests
would otherwise each fan out over torch's intra-op threads and fight for the same cores,
which makes every request slower rather than any faster. PNGs are written at compression
level 1 (a 28x28 image is a few hundred bytes either way; higher levels only cost time).

Errors are `ExplorerError`s carrying the HTTP status the app should answer with; they are
AekitErrors, so Python callers see the one exception type aekit uses everywhere.
"""

from __future__ import annotations

import base64
import io
import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from aekit.core.spec import spec_for
from aekit.errors import AekitError
from aekit.latent.plane import Plane, axis_plane, fit_plane

# Uploads: bytes and pixels beyond these are refused before any pixel is decoded.
MAX_UPLOAD_BYTES = 5 * 2**20  # 5 MiB: far more than any image an autoencoder here takes
MAX_PIXELS = 16_000_000  # 4000x4000; a decoded RGBA image of that size is 64 MB
MAX_STEPS = 64  # interpolation strip length
MAX_ABS_CODE = 1e6  # larger code values mean nothing to a decoder and can overflow to NaN
MAX_TEMPERATURE = 10.0  # melody decoding; far above 1 every token is as likely as any other
MAX_TOKENS = 32 * 64  # a melody to render as WAV: 64 two-bar windows, about 4 minutes
MAX_DIRECTIONS = 16  # principal directions of the code the page may ask for
MAX_SEED = 2**53 - 1  # request seeds: the largest integer JavaScript's numbers hold exactly


class ExplorerError(AekitError):
    """A bad request, with the HTTP status that says what kind: 422 a value the model cannot
    take, 404 no such test image, 409 the run cannot do this, 413 too large, 415 not an image."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class TestImages:
    """The first `limit` test rows (images, or melody windows), their labels, codes and the
    2-D view of those codes."""

    images: np.ndarray  # (N, C, H, W) uint8; melody runs: (N, T) uint8 tokens
    labels: np.ndarray | None  # (N,) int64
    codes: np.ndarray  # (N, D) float32, flattened posterior means
    points: np.ndarray  # (N, 2) float32, `codes` projected onto the pad's plane


@dataclass
class Explorer:
    """A trained run, ready to answer the explorer page. Build it with `Explorer.load`."""

    run: Any  # aekit.training.checkpoint.Run
    task: Any  # what build_task makes of the run's task config
    code_shape: tuple[int, ...] | None  # None for upscalers: their code is no latent
    classes: tuple[str, ...] | None
    dataset: str | None
    test: TestImages | None
    # The pad's plane in code space (aekit.latent.plane): the code itself for a 2-D code, else
    # the plane of the first two principal components of the test codes, as latent-plot draws.
    projection: Plane | None
    notes: list[str] = field(default_factory=list)
    train_images: np.ndarray | None = None  # for the fitted code Gaussian of plain AEs
    train_labels: np.ndarray | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    modality: str = "images"  # the run's: images, or melody
    _fitted: Any = None  # generation.CodeDistribution, fitted on first use
    _rng: np.random.Generator = field(default_factory=lambda: np.random.default_rng(0))

    # ------------------------------------------------------------------ loading

    @classmethod
    def load(cls, run_dir: str | Path, *, data_dir: str | Path | None = None, limit: int = 2000):
        """Load the run (AekitError if it has no model) and encode up to `limit` test images.

        The dataset is optional: when it cannot be loaded (a run trained from Python, data on
        another machine) the explorer still decodes codes and applies the model to uploads, and
        says in `notes` why the scatter and the test images are missing."""
        from aekit.modalities import get_modality
        from aekit.training.checkpoint import load_run

        if limit < 0:
            raise AekitError(f"limit must be >= 0 test images, got {limit}")
        run = load_run(run_dir)
        kind = run.config.modality
        if kind not in ("images", "melody"):
            raise AekitError(f"the explorer shows image and melody runs; {run_dir} is a {kind} run")
        run.model.eval()
        task = get_modality(kind).build_task(run.config.task)
        # an upscaler's or a U-Net denoiser's deepest map is no code a decoder works from
        latent = run.config.task["name"] != "superres" and getattr(run.model, "decodable", True)
        code_shape = tuple(run.model.code_shape) if latent else None
        explorer = cls(run, task, code_shape, None, run.config.data.name or None, None, None,
                       modality=kind)  # fmt: skip
        if latent:
            explorer._load_data(data_dir, limit)
        return explorer

    def _load_data(self, data_dir: str | Path | None, limit: int) -> None:
        from aekit.runs import run_data

        try:
            dataset = run_data(self.run.config, data_dir=data_dir)
        except AekitError as exc:
            self.notes.append(f"no test images: {exc}")
            self.projection = axis_plane(self.code_dim)
            return
        self.classes = dataset.classes if self.modality == "images" else None
        self.dataset = dataset.name
        if self.modality == "images" and tuple(dataset.image_shape) != self.image_shape:
            self.notes.append(
                f"no test images: they are {dataset.image_shape}, the model takes "
                f"{self.image_shape} (trained on patches?)"
            )
            self.projection = axis_plane(self.code_dim)
            return
        self.train_images, self.train_labels = dataset.train.rows, dataset.train.labels
        images = dataset.test.rows[:limit]
        labels = None if dataset.test.labels is None else dataset.test.labels[:limit]
        if self.conditional and labels is None:
            self.notes.append("no test images: the test split has no labels for this cvae")
            self.projection = axis_plane(self.code_dim)
            return
        if len(images) == 0:
            self.notes.append(f"no test {dataset.test.noun}: the limit is 0")
            self.projection = axis_plane(self.code_dim)
            return
        codes = self.encode_images(images, labels)
        self.projection = fit_plane(codes)
        self.test = TestImages(images, labels, codes, self.projection.project(codes))

    # ------------------------------------------------------------------ what the run is

    @property
    def model(self) -> torch.nn.Module:
        return self.run.model

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self.model.config.image_shape)

    @property
    def output_shape(self) -> tuple[int, int, int]:
        return tuple(self.model.output_shape)

    @property
    def code_dim(self) -> int:
        return int(np.prod(self.code_shape)) if self.code_shape is not None else 0

    @property
    def conditional(self) -> bool:
        return spec_for(self.model).conditional

    @property
    def num_classes(self) -> int | None:
        return int(self.model.config.num_classes) if self.conditional else None

    @property
    def has_prior(self) -> bool:
        """Variational models (and the aae) are trained towards N(0, I): sample from it."""
        return spec_for(self.model).has_prior

    @property
    def actions(self) -> list[str]:
        """What /api/apply may do with an upload, as the run's training task allows."""
        if self.modality != "images":
            return []
        return {
            "identity": ["reconstruct"],
            "denoise": ["add-noise-denoise", "denoise"],
            "superres": ["downscale-upscale", "upscale"],
        }[self.run.config.task["name"]]

    # ------------------------------------------------------------------ checks

    def check_latent(self) -> None:
        if self.code_shape is None:
            raise ExplorerError(
                409,
                f"run {self.run.path.name} is an upscaler or a denoiser with skip connections: its "
                "code is a feature map, not a latent code to decode or explore; use /api/apply",
            )

    def check_modality(self, kind: str, instead: str) -> None:
        """409 unless the run is of modality `kind`; `instead` says what to use."""
        if self.modality != kind:
            raise ExplorerError(
                409, f"run {self.run.path.name} is a {self.modality} run, not {kind}; {instead}"
            )

    def check_code(self, z: list[float]) -> np.ndarray:
        """A flat code of the model's length, finite and of sane size, as float32 (D,)."""
        self.check_latent()
        problem = code_problem(z, self.code_dim, self.code_shape)
        if problem:
            raise ExplorerError(422, problem)
        return np.asarray(z, dtype=np.float32)

    def check_label(self, label: int | None, n: int = 1) -> np.ndarray | None:
        """n copies of the label for a conditional model; None for the others."""
        problem = label_problem(label, type(self.model).__name__, self.num_classes)
        if problem:
            raise ExplorerError(422, problem)
        return None if label is None else np.full(n, label, dtype=np.int64)

    def check_index(self, i: int) -> int:
        what = "test images" if self.modality == "images" else "test windows"
        if self.test is None:
            raise ExplorerError(409, f"this explorer has no {what}: " + "; ".join(self.notes))
        n = len(self.test.images)
        if not 0 <= i < n:
            raise ExplorerError(404, f"{what[:-1]} {i} does not exist; there are 0..{n - 1}")
        return i

    # ------------------------------------------------------------------ the model

    def decode(self, codes: np.ndarray, labels: np.ndarray | None) -> np.ndarray:
        """Flat codes (n, D) -> images (n, C, H, W) float32 in [0, 1]."""
        z = torch.from_numpy(np.ascontiguousarray(codes, dtype=np.float32))
        z = z.view(-1, *self.code_shape)
        y = None if labels is None else torch.from_numpy(labels)
        with self.lock, torch.inference_mode():
            out = self.model.decode(z, y).float().numpy()
        return np.nan_to_num(out, nan=0.0).clip(0.0, 1.0)

    def encode_images(self, images_u8: np.ndarray, labels: np.ndarray | None) -> np.ndarray:
        """uint8 (n, C, H, W) -> flat codes (n, D): posterior means for variational models.
        Melody runs: uint8 (n, T) token windows -> their posterior means (n, D)."""
        if self.modality == "melody":
            from aekit.modalities.melody.inference import posterior_means

            with self.lock:
                return posterior_means(self.model, images_u8).numpy()
        from aekit.inference import embed

        with self.lock:
            codes = embed(self.model, images_u8, labels=labels)
        return codes.reshape(codes.shape[0], -1)

    def run_model(self, images_u8: np.ndarray, labels: np.ndarray | None) -> np.ndarray:
        from aekit.inference import reconstruct

        with self.lock:
            return reconstruct(self.model, images_u8, labels=labels)

    def random_code(self, seed: int | None, label: int | None) -> tuple[np.ndarray, str]:
        """One code from the prior N(0, I) (variational models, aae), else from the Gaussian
        fitted to the training codes (as `aekit generate` draws): (code (D,), where from)."""
        self.check_latent()
        self.check_label(label)  # a cvae's decode will need it; refuse a bad one here
        with self.lock:
            rng = np.random.default_rng(seed) if seed is not None else self._rng
            eps = rng.standard_normal(self.code_dim)
        if self.has_prior:
            return eps.astype(np.float32), "prior N(0, I)"
        z = self.fitted_codes().from_standard(torch.from_numpy(eps)[None])
        return z.reshape(-1).numpy(), "Gaussian fitted to the training codes"

    def directions(self, k: int) -> dict[str, Any]:
        """The k directions of the code the page's sliders move along, as /api/directions
        answers: mean (D,), components (k, D) orthonormal, std (k,), span (k,), explained (k)
        or None, axes. The principal directions of the test codes when there are enough of
        them (a melody code has many dimensions, of which the data uses a few: these), else
        the first k code axes around 0 with spread 1, the prior's. A slider spans 4 std each
        way, and at least 3 for a model with a N(0, I) prior: 3 prior std hold nearly all its
        mass, and a barely trained encoder's means can huddle far inside that."""
        self.check_latent()
        d = self.code_dim
        k = min(k, d)
        codes = None if self.test is None else self.test.codes
        if codes is None or len(codes) <= k:
            mean, components = np.zeros(d, np.float32), np.eye(d, dtype=np.float32)[:k]
            std, explained = np.ones(k, np.float32), None
            axes = [f"z[{i}]" for i in range(k)]
        else:
            from aekit.latent.pca import PCA

            pca = PCA(k).fit(torch.from_numpy(codes.astype(np.float64)))
            mean = pca.mean.numpy().astype(np.float32)
            components = pca.components.numpy().astype(np.float32)
            std = ((codes - mean) @ components.T).std(axis=0).astype(np.float32)
            total = float(codes.astype(np.float64).var(axis=0).sum()) or 1.0
            explained = [float(v) ** 2 / total for v in std]
            axes = [f"PC {i + 1}" for i in range(k)]
        span = 4 * std
        if self.has_prior:
            span = np.maximum(span, 3.0)
        return {"mean": mean.tolist(), "components": components.tolist(), "std": std.tolist(),
                "span": span.tolist(), "explained": explained, "axes": axes}  # fmt: skip

    def fitted_codes(self):
        from aekit.latent.generation import fit_codes

        if self._fitted is None:
            if self.train_images is None:
                raise ExplorerError(
                    409,
                    "a plain autoencoder samples from a Gaussian fitted to its training codes, "
                    "and the training images are not available: " + "; ".join(self.notes),
                )
            with self.lock:
                if self._fitted is None:  # two first requests at once fit only once
                    self._fitted = fit_codes(
                        self.model, self.train_images, labels=self.train_labels
                    )
        return self._fitted


def code_problem(z: Sequence[float], code_dim: int, code_shape: Sequence[int]) -> str | None:
    """What is wrong with a flat code (numbers, as a client sent them) for a model whose code has
    `code_dim` values, in one sentence; None when nothing is. Shared by Explorer.check_code and the
    request models (server/inputs.py), so the API words the same fault the same way."""
    if len(z) != code_dim:
        return (
            f"z has {len(z)} values but this model's code has {code_dim} "
            f"(code shape {list(code_shape)})"
        )
    for i, value in enumerate(z):
        if not isinstance(value, int) and not math.isfinite(value):
            return f"z[{i}] is {value}; every code value must be a finite number"
        if abs(value) > MAX_ABS_CODE:
            # an integer from JSON can be too large for a float: say its size instead
            shown = f"{float(value):g}" if abs(value) < 1e308 else f"~1e{len(str(abs(value))) - 1}"
            return f"z[{i}] = {shown} is beyond +-{MAX_ABS_CODE:g}; send smaller values"
    return None


def label_problem(label: int | None, model_name: str, num_classes: int | None) -> str | None:
    """What is wrong with `label` for a model (num_classes None: not conditional), in one
    sentence; None when nothing is."""
    if num_classes is None:
        return None if label is None else f"this {model_name} is not conditional; send no label"
    if label is None:
        return f"this {model_name} is conditioned on the class: send label 0..{num_classes - 1}"
    if not 0 <= label < num_classes:
        return f"label {label} is outside the trained classes 0..{num_classes - 1}"
    return None


def action_problem(action: str, actions: Sequence[str], task: str) -> str | None:
    """What is wrong with an /api/apply action for a run whose task allows `actions`; None when
    nothing is."""
    if action in actions:
        return None
    return f"action {action!r} does not suit this run (task {task!r}); choose one of " + ", ".join(
        actions
    )


def png_bytes(image: np.ndarray) -> bytes:
    """(C, H, W) float in [0, 1] or uint8 -> PNG bytes (gray or RGB)."""
    arr = image if image.dtype == np.uint8 else np.rint(np.clip(image, 0, 1) * 255).astype(np.uint8)
    arr = arr[0] if arr.shape[0] == 1 else arr.transpose(1, 2, 0)
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(arr)).save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def data_url(image: np.ndarray) -> str:
    """A PNG as a data: URL, so a JSON answer can carry images the page shows directly."""
    return "data:image/png;base64," + base64.b64encode(png_bytes(image)).decode("ascii")
