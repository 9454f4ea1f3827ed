"""The image modality: uint8 (C, H, W) rows, PNG/JPEG files, pixel metrics, classical baselines.

Everything the core asks of images goes through `IMAGES` (aekit.modalities.base.Modality); the
pieces live beside it: data/ (named sets, folders, arrays), tasks.py (identity, denoise,
superres and their preparation of raw rows), metrics.py, baselines.py, data/images.py (files).
Heavy imports (torch, scikit-image) happen inside the methods, so looking the modality up for
`aekit datasets` stays cheap.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from aekit.config import to_dict
from aekit.errors import AekitError
from aekit.modalities.base import Baseline, DatasetInfo, MetricSet

if TYPE_CHECKING:
    import torch

    from aekit.config import DataConfig
    from aekit.training.config import TrainConfig

KINDS = {1: "grayscale", 3: "RGB"}


class ImageModality:
    """Images as aekit trains on them: every split holds uint8 (N, C, H, W) rows."""

    name = "images"
    file_kinds = "PNG or JPEG images"
    # PNG, JPEG, GIF, TIFF (both byte orders): what a photo or a drawing is most likely saved as
    file_magic = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF8", b"II*\x00", b"MM\x00*")
    file_suffixes = (".png", ".jpg", ".jpeg", ".gif", ".bmp", ".webp", ".tif", ".tiff")
    output_suffix = ".png"

    @property
    def metrics(self) -> MetricSet:
        from aekit.modalities.images.metrics import METRICS, image_metrics

        return MetricSet(
            names=METRICS, score=image_metrics, higher_is_better=frozenset({"psnr", "ssim"}),
            units={"psnr": "dB"}, specificity="psnr",
        )  # fmt: skip

    # -- data ---------------------------------------------------------------------------------

    def claims(self, data_name: str) -> bool:
        from aekit.modalities.images.data import sources

        return sources.claims(data_name)

    def list_datasets(self, data_dir: str | Path | None = None) -> list[DatasetInfo]:
        from aekit.modalities.images.data import list_datasets

        return list_datasets(data_dir)

    def load_dataset(self, name: str, **options: Any) -> Any:
        from aekit.modalities.images.data import load_dataset

        return load_dataset(name, **options)

    def load(self, data: DataConfig) -> Any:
        return self.load_dataset(
            data.name, data_dir=data.data_dir, val_fraction=data.val_fraction, seed=data.seed,
            image_size=data.image_size, limit=data.limit,
        )  # fmt: skip

    def data_shape(self, dataset: Any) -> tuple[int, ...]:
        return tuple(dataset.image_shape)

    def prepare(self, raw: torch.Tensor, train: TrainConfig | None = None) -> torch.Tensor:
        from aekit.modalities.images.tasks import prepare

        return prepare(raw, train)

    # -- tasks and models ---------------------------------------------------------------------

    def default_task(self) -> dict[str, Any]:
        from aekit.modalities.images.tasks import TaskConfig

        return to_dict(TaskConfig())

    def task_table(self, table: Mapping[str, Any], where: str = "task") -> dict[str, Any]:
        from aekit.modalities.images.tasks import task_config

        return to_dict(task_config(dict(table), where=where))

    def build_task(self, table: Mapping[str, Any]) -> Any:
        from aekit.modalities.images.tasks import build_task, task_config

        return build_task(task_config(dict(table), where="run.task"))

    def evaluation_task(self, table: Mapping[str, Any]) -> Any:
        return self.build_task(table)

    def model_fields(self, task: Any, data_shape: Sequence[int]) -> dict[str, Any]:
        """The model sees what the task makes of the images (a low-res copy for superres)."""
        return {"image_shape": list(task.input_shape(tuple(data_shape)))}

    def check_model(self, model: Any, task: Any, data_shape: Sequence[int], name: str) -> None:
        target = tuple(data_shape)
        patch = task.config.patch
        if patch is not None:  # the model learns on crops; targets are crops too
            target = (target[0], patch, patch)
        if tuple(model.output_shape) != target:
            hint = (
                "; use the sr model for --task superres"
                if task.config.name == "superres"
                else "; the sr model only fits --task superres with the same --scale"
            )
            raise AekitError(
                f"model {name!r} turns {task.input_shape(tuple(data_shape))} inputs into "
                f"{model.output_shape}, but task {task.config.name!r} needs {target}{hint}"
            )

    def check_input(self, model: Any, task: Any, data_shape: Sequence[int]) -> None:
        """Refuse rows whose task input is not the shape the model was built for."""
        from aekit.inference import check_fits_shape

        input_shape = getattr(task, "input_shape", None)  # plain callables keep the shape
        shape = tuple(input_shape(tuple(data_shape))) if input_shape else tuple(data_shape)
        check_fits_shape(model, shape)

    # -- results ------------------------------------------------------------------------------

    def baselines(
        self, model: Any, dataset: Any, task: Any, seed: int = 0
    ) -> tuple[dict[str, Baseline], list[str]]:
        from aekit.modalities.images.baselines import task_baselines

        return task_baselines(model, dataset, task, seed)

    def evaluate_more(
        self, model: Any, dataset: Any, split: str, rows: np.ndarray, baselines: dict[str, Any],
        task: Any = None,
    ) -> Any:  # fmt: skip
        """Upscalers: PSNR/SSIM per downscaling kernel, the unseen Lanczos too; denoisers: at
        fixed levels beside a classical filter tuned per level."""
        from aekit.modalities.base import task_name

        if task_name(task) == "superres":
            from aekit.modalities.images.evaluation_sr import evaluate_sr

            return evaluate_sr(model, rows, task, split)
        if getattr(task, "noise", None) is not None:  # a whole-image denoise task
            from aekit.modalities.images.evaluation_denoise import evaluate_denoising

            return evaluate_denoising(model, dataset, split, rows, task)
        return None  # other image figures are per-row metrics, in the table already

    def reconstruct(self, model: Any, rows: np.ndarray, labels: np.ndarray | None = None) -> Any:
        from aekit.inference import reconstruct

        return reconstruct(model, rows, labels=labels)

    def read_file(self, path: Path, model: Any, resize: bool) -> np.ndarray:
        """An image file as uint8 (C, H, W) for `model`: a different size is refused unless
        `resize`; different channels (RGB for a grayscale model) are always refused."""
        from aekit.modalities.images.data import read_image

        channels, height, width = model.config.image_shape
        image = read_image(path, size=(height, width) if resize else None)
        if image.shape[0] != channels:
            raise AekitError(
                f"{path} is {KINDS.get(image.shape[0], image.shape[0])} but the model takes "
                f"{KINDS.get(channels, channels)} images; convert the file first"
            )
        if image.shape[1:] != (height, width):
            raise AekitError(
                f"{path} is {image.shape[2]}x{image.shape[1]} but the model takes "
                f"{width}x{height}; pass --resize to resize it"
            )
        return image

    def write_outputs(self, paths: Sequence[Path], outputs: Any) -> str:
        from aekit.modalities.images.data import write_image

        for path, image in zip(paths, outputs, strict=True):
            write_image(path, image)
        shape = "x".join(map(str, np.asarray(outputs).shape[2:][::-1]))
        return f"{len(paths)} images ({shape})"

    def picture(
        self, model: Any, task: Any, rows: np.ndarray, labels: np.ndarray | None = None
    ) -> tuple[str, np.ndarray]:
        from aekit.modalities.images.picture import task_picture

        return "reconstructions", task_picture(model, task, rows, labels)
