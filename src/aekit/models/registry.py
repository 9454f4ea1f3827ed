"""Building models from the registry of ModelSpecs (aekit/models/specs.py), by name.

MODELS, DESCRIPTIONS and PRESETS are read-only views of the specs, kept for the code that
imported them before specs existed. This module imports torch; aekit.models exports its names
lazily so that listing the models does not.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import torch

from aekit.config import from_dict
from aekit.core.outputs import AEOutput, LossOutput
from aekit.core.posterior import DiagonalGaussian
from aekit.core.spec import SPECS, ModelSpec, SpecView, register, spec_for, spec_of
from aekit.errors import AekitError
from aekit.models import specs
from aekit.models.base import Autoencoder

FAMILIES = specs.FAMILIES
MODELS: SpecView[tuple[type[Autoencoder], type]] = SpecView(lambda s: s.classes())
DESCRIPTIONS: SpecView[str] = SpecView(lambda s: s.description)
PRESETS: SpecView[Any] = SpecView(lambda s: s.presets)


def preset(model: str, name: str) -> dict[str, Any]:
    """The dotted settings of `model`'s preset `name`, or one line naming the presets there are."""
    return spec_of(model).preset(name)


def model_entry(name: str) -> tuple[type[Autoencoder], type]:
    return spec_of(name).classes()


def registered_name(model: Autoencoder) -> str:
    """The registry name of a model instance (what config.json records)."""
    return spec_for(model).name


def build_model(name: str, config: Any = None, **overrides: Any) -> Autoencoder:
    """Build a registered model from its config object, a plain dict, or keyword fields.

    >>> model = build_model("conv-ae", image_shape=(1, 28, 28), latent_dim=16)
    """
    cls, config_cls = model_entry(name)
    if config is None:
        config = {}
    if isinstance(config, dict):
        config = from_dict(config_cls, {**config, **overrides}, where=f"model {name!r} config")
    elif overrides:
        config = from_dict(config_cls, {**asdict(config), **overrides}, where=f"model {name!r}")
    if not isinstance(config, config_cls):
        raise AekitError(f"model {name!r} takes a {config_cls.__name__}, got {type(config)}")
    check_parameter_count(name, cls, config)
    return cls(config)


# 2**28 parameters = 1 GiB of fp32 weights (about 4 GiB to train with AdamW): past any model this
# CPU trains, and a config.json asking for more must fail here, not in the allocator.
MAX_PARAMETERS = 1 << 28


def check_parameter_count(name: str, cls: type[Autoencoder], config: Any) -> None:
    """Build the model on the meta device first (shapes only, no memory) to count parameters."""
    with torch.device("meta"):
        probe = cls(config)
    count = sum(p.numel() for p in probe.parameters())
    if count > MAX_PARAMETERS:
        raise AekitError(
            f"model {name!r} with this config has {count:,} parameters, over the limit of "
            f"{MAX_PARAMETERS:,}; use a smaller image_shape, widths or latent_dim"
        )


def config_fields(name: str) -> list[str]:
    return spec_of(name).config_fields()


__all__ = [
    "AEOutput",
    "Autoencoder",
    "DESCRIPTIONS",
    "DiagonalGaussian",
    "LossOutput",
    "MODELS",
    "ModelSpec",
    "PRESETS",
    "SPECS",
    "build_model",
    "config_fields",
    "model_entry",
    "preset",
    "register",
    "registered_name",
    "spec_for",
    "spec_of",
]
