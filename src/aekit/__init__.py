"""aekit: train and use autoencoders on your own images.

from aekit import load_dataset, build_model, Trainer, TrainConfig, load_run

data = load_dataset("fashion-mnist")
model = build_model("conv-ae", image_shape=data.image_shape, latent_dim=16)
Trainer(model, TrainConfig(epochs=5), out_dir="runs/fm16").fit(data.train, data.val)
run = load_run("runs/fm16")          # model rebuilt from config.json + model.safetensors
"""

__version__ = "0.1.0"

from aekit.config import DataConfig, RunConfig, TaskConfig  # noqa: E402
from aekit.data import Dataset, ImageSet, list_datasets, load_dataset  # noqa: E402
from aekit.errors import AekitError  # noqa: E402
from aekit.evaluation.baselines import PCA  # noqa: E402
from aekit.evaluation.evaluate import EvalReport, evaluate_model, evaluate_on  # noqa: E402
from aekit.inference import embed, reconstruct  # noqa: E402
from aekit.models import MODELS, build_model  # noqa: E402
from aekit.runs import default_run_config, train_run  # noqa: E402
from aekit.training.checkpoint import Run, load_run  # noqa: E402
from aekit.training.config import TrainConfig  # noqa: E402
from aekit.training.trainer import FitResult, Trainer  # noqa: E402

__all__ = [
    "MODELS", "PCA", "AekitError", "DataConfig", "Dataset", "EvalReport", "FitResult",
    "ImageSet", "Run", "RunConfig", "TaskConfig", "TrainConfig", "Trainer", "__version__",
    "build_model", "default_run_config", "embed", "evaluate_model", "evaluate_on",
    "list_datasets", "load_dataset", "load_run", "reconstruct", "train_run",
]  # fmt: skip
