"""aekit: train and use autoencoders on your own data.

from aekit import load_dataset, build_model, Trainer, TrainConfig, load_run

data = load_dataset("fashion-mnist")
model = build_model("conv-ae", image_shape=data.image_shape, latent_dim=16)
Trainer(model, TrainConfig(epochs=5), out_dir="runs/fm16").fit(data.train, data.val)
run = load_run("runs/fm16")          # model rebuilt from config.json + model.safetensors

The names below are imported on first use (PEP 562), so `import aekit` and `aekit --help`
never pay for torch until something needs it.
"""

from importlib import import_module
from typing import Any

# The one place the version is written: pyproject.toml reads this literal (setuptools `attr:`,
# statically), and `aekit --version`, run configs and reports print it.
__version__ = "0.1.0"

# public name -> the module that defines it
_EXPORTS = {
    "DataConfig": "aekit.config", "RunConfig": "aekit.config",
    "TaskConfig": "aekit.modalities.images.tasks",
    "Dataset": "aekit.modalities.images.data", "ImageSet": "aekit.modalities.images.data",
    "list_datasets": "aekit.datasets", "load_dataset": "aekit.datasets",
    "get_modality": "aekit.modalities",
    "AekitError": "aekit.errors",
    "PCA": "aekit.latent.pca",
    "EvalReport": "aekit.evaluation.evaluate", "evaluate_model": "aekit.evaluation.evaluate",
    "evaluate_on": "aekit.evaluation.evaluate",
    "export_run": "aekit.export",
    "embed": "aekit.inference", "reconstruct": "aekit.inference",
    "MODELS": "aekit.models", "build_model": "aekit.models",
    "default_run_config": "aekit.runs", "open_run": "aekit.runs", "train_run": "aekit.runs",
    "Run": "aekit.training.checkpoint", "load_run": "aekit.training.checkpoint",
    "TrainConfig": "aekit.training.config",
    "FitResult": "aekit.training.trainer", "Trainer": "aekit.training.trainer",
}  # fmt: skip

__all__ = sorted([*_EXPORTS, "__version__"])


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'aekit' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value  # the next lookup is a plain attribute
    return value


def __dir__() -> list[str]:
    return __all__
