"""The model families, their registry and `build_model`.

    specs.py     every family's ModelSpec: the one place that names them (torch-free)
    registry.py  build_model, model_entry, preset, registered_name; MODELS and friends as views
    ae.py conv_ae.py sr.py vae.py aae.py melody_vae.py   the families; base.py, variational.py,
                 losses.py (base.py and variational.py assume images; melody_vae.py does not)

Importing this package registers every spec but imports no torch: the registry's names are
looked up on first use (PEP 562), so `aekit models` lists the families without loading torch.
"""

from importlib import import_module
from typing import Any

from aekit.core.spec import SPECS, ModelSpec, register, spec_for, spec_of
from aekit.models import specs  # noqa: F401  (registers every family)

_REGISTRY = {
    "AEOutput", "Autoencoder", "DESCRIPTIONS", "DiagonalGaussian", "LossOutput", "MODELS",
    "PRESETS", "build_model", "check_parameter_count", "config_fields", "model_entry", "preset",
    "registered_name", "MAX_PARAMETERS", "FAMILIES",
}  # fmt: skip

__all__ = [
    "AEOutput", "Autoencoder", "DESCRIPTIONS", "DiagonalGaussian", "FAMILIES", "LossOutput",
    "MAX_PARAMETERS", "MODELS", "ModelSpec", "PRESETS", "SPECS", "build_model",
    "check_parameter_count", "config_fields", "model_entry", "preset", "register",
    "registered_name", "spec_for", "spec_of",
]  # fmt: skip


def __getattr__(name: str) -> Any:
    if name in _REGISTRY:
        value = getattr(import_module("aekit.models.registry"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'aekit.models' has no attribute {name!r}")
