"""The model registry: name -> (class, config class), and `build_model`.

Adding a model family is one file and one line here; nothing else in aekit names model families.
"""

from __future__ import annotations

import difflib
from dataclasses import asdict, fields
from typing import Any

import torch

from aekit.config import from_dict
from aekit.core.outputs import AEOutput, LossOutput
from aekit.core.posterior import DiagonalGaussian
from aekit.errors import AekitError
from aekit.models.aae import AAE, AAEConfig
from aekit.models.ae import AE, AEConfig
from aekit.models.base import Autoencoder
from aekit.models.conv_ae import ConvAE, ConvAEConfig
from aekit.models.sr import SR, SRConfig
from aekit.models.vae import CVAE, VAE, ConvVAE, ConvVAEConfig, CVAEConfig, VAEConfig

MODELS: dict[str, tuple[type[Autoencoder], type]] = {
    "ae": (AE, AEConfig),
    "conv-ae": (ConvAE, ConvAEConfig),
    "sr": (SR, SRConfig),
    "vae": (VAE, VAEConfig),
    "conv-vae": (ConvVAE, ConvVAEConfig),
    "cvae": (CVAE, CVAEConfig),
    "aae": (AAE, AAEConfig),
}

DESCRIPTIONS = {
    "ae": "fully connected autoencoder (flatten -> MLP -> code -> MLP)",
    "conv-ae": "convolutional autoencoder; arch=lesson is the lesson's 16-8-8 network",
    "sr": "super-resolution x2/x4 (sub-pixel convolution; arch=lesson: the lesson's net)",
    "vae": "variational autoencoder, fully connected (the lesson's 784-512-2)",
    "conv-vae": "convolutional variational autoencoder (conv-ae's networks + a Gaussian head)",
    "cvae": "conditional convolutional VAE: encoder and decoder see the class label",
    "aae": "adversarial autoencoder: a discriminator matches the codes to N(0, I)",
}

# Named bundles of dotted settings (`aekit train MODEL --preset NAME`), applied over the defaults
# and under everything the user gives. "lesson" reproduces the lesson's training recipe.
PRESETS: dict[str, dict[str, dict[str, Any]]] = {
    "conv-ae": {"lesson": {"model.arch": "lesson"}},
    "vae": {
        "lesson": {
            "model.latent_dim": 2, "model.hidden": [512], "train.optimizer": "rmsprop",
            "train.lr": 1e-3, "train.schedule": "constant", "train.batch_size": 100,
            "train.epochs": 50,
        },
    },
}  # fmt: skip


def preset(model: str, name: str) -> dict[str, Any]:
    """The dotted settings of `model`'s preset `name`, or one line naming the presets there are."""
    known = PRESETS.get(model, {})
    if name not in known:
        choices = ", ".join(known) or "none"
        raise AekitError(f"model {model!r} has no preset {name!r} (its presets: {choices})")
    return known[name]


def model_entry(name: str) -> tuple[type[Autoencoder], type]:
    if name not in MODELS:
        close = difflib.get_close_matches(name, MODELS, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise AekitError(f"unknown model {name!r}{hint}; known models: {', '.join(MODELS)}")
    return MODELS[name]


def registered_name(model: Autoencoder) -> str:
    """The registry name of a model instance (what config.json records)."""
    for name, (cls, _) in MODELS.items():
        if type(model) is cls:
            return name
    raise AekitError(f"{type(model).__name__} is not a registered model; add it to MODELS")


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
    return [f.name for f in fields(model_entry(name)[1])]


__all__ = [
    "AEOutput",
    "Autoencoder",
    "DESCRIPTIONS",
    "DiagonalGaussian",
    "LossOutput",
    "MODELS",
    "PRESETS",
    "build_model",
    "config_fields",
    "model_entry",
    "preset",
    "registered_name",
]
