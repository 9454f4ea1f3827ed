"""The ModelSpec registry: lookups, the views kept for old imports, specs that refuse to lie,
and `aekit models` listing from the specs."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import torch

from aekit.core import spec as registry
from aekit.core.spec import ModelSpec, num_classes, register
from aekit.errors import AekitError
from aekit.models import (
    DESCRIPTIONS,
    MODELS,
    PRESETS,
    SPECS,
    build_model,
    config_fields,
    model_entry,
    preset,
    registered_name,
    spec_for,
    spec_of,
)
from aekit.models.aae import AAE
from aekit.models.ae import AE, AEConfig
from aekit.models.vae import CVAE, VAE, CVAEConfig


def test_the_registry_lists_every_family_in_order():
    assert list(SPECS) == ["ae", "conv-ae", "sr", "vae", "conv-vae", "cvae", "aae", "melody-vae"]
    assert list(MODELS) == list(DESCRIPTIONS) == list(PRESETS) == list(SPECS)


def test_old_names_are_views_of_the_specs():
    assert MODELS["cvae"] == (CVAE, CVAEConfig) == model_entry("cvae")
    assert DESCRIPTIONS["ae"] == spec_of("ae").description
    assert PRESETS["vae"]["lesson"]["train.optimizer"] == "rmsprop"
    assert PRESETS.get("ae", {}) == {} and "nope" not in MODELS
    assert config_fields("ae") == ["image_shape", "latent_dim", "hidden", "loss"]
    assert registered_name(build_model("vae", latent_dim=2)) == "vae"
    with pytest.raises(TypeError):
        MODELS["x"] = (AE, AEConfig)  # type: ignore[index]


def test_specs_of_models_and_names():
    model = build_model("cvae", {**spec_of("cvae").tiny, "image_shape": [1, 8, 8]})
    assert spec_for(model) is SPECS["cvae"] and num_classes(model) == 3
    assert num_classes(build_model("vae")) is None
    assert spec_of("aae").model_class is AAE and spec_of("vae").model_class is VAE


def test_unknown_and_unregistered_models_fail_in_one_line():
    with pytest.raises(AekitError, match=r"unknown model 'cvea' \(did you mean 'cvae'\?\)"):
        spec_of("cvea")

    class Mine(AE):  # a subclass is another family, not the parent's
        pass

    with pytest.raises(AekitError, match="Mine is not a registered model"):
        spec_for(Mine(AEConfig()))


def test_presets_come_from_the_spec_and_are_copies():
    settings = preset("vae", "lesson")
    assert settings["model.latent_dim"] == 2 and settings["train.batch_size"] == 100
    settings["model.hidden"].append(7)
    assert preset("vae", "lesson")["model.hidden"] == [512]
    assert preset("conv-ae", "lesson") == {"model.arch": "lesson"}
    with pytest.raises(AekitError, match=r"'ae' has no preset 'lesson' \(its presets: none\)"):
        preset("ae", "lesson")
    with pytest.raises(AekitError, match=r"its presets: lesson"):
        preset("vae", "fast")
    with pytest.raises(TypeError):
        spec_of("vae").presets["lesson"]["train.lr"] = 1.0  # type: ignore[index]


@dataclass
class LabelledConfig:
    image_shape: tuple[int, int, int] = (1, 8, 8)
    num_classes: int = 4


def spec(**changes) -> ModelSpec:
    fields = {"name": "mine", "model": AE, "config": AEConfig, "description": "one line"}
    return ModelSpec(**{**fields, "tiny": {"latent_dim": 2}, **changes})


@pytest.mark.parametrize(
    "changes, fragment",
    [
        ({"conditional": True}, "conditional=True, but AEConfig has no field num_classes"),
        ({"config": LabelledConfig, "tiny": {}}, "but LabelledConfig has field num_classes"),
        ({"has_prior": True}, r"has_prior=True, but AE has no sample\(\)"),
        ({"model": AAE}, r"has_prior=False, but AAE has sample\(\)"),
        ({"own_training_step": True}, r"own_training_step=True, but AE has no training_step"),
        ({"tiny": {"depth": 3}}, "unknown config fields depth; AEConfig has hidden, image_shape"),
        ({"presets": {"big": {"model.width": 9, "train.lr": 1}}}, r"width \(preset big\)"),
        ({"name": "My_Model"}, "must be kebab-case"),
        ({"description": "two\nlines"}, "one non-empty line"),
        ({"config": dict}, "is not a dataclass"),
    ],
)
def test_a_spec_that_contradicts_its_classes_is_refused(changes, fragment):
    with pytest.raises(AekitError, match=fragment):
        spec(**changes)


def test_registering_shows_in_every_view_and_a_second_family_under_a_name_is_refused():
    mine = spec()
    try:
        assert register(mine) is mine and register(mine) is mine  # the same spec again: no-op
        assert "mine" in MODELS and DESCRIPTIONS["mine"] == "one line"
        assert build_model("mine", {**mine.tiny, "image_shape": [1, 4, 4]}).code_dim == 2
        with pytest.raises(AekitError, match="model 'mine' is registered twice"):
            register(spec())
    finally:
        registry.SPECS.pop("mine", None)
    assert "mine" not in MODELS


def test_dummy_inputs_follow_the_modality_and_the_labels():
    x, y = spec_of("cvae").dummy_inputs(5, CVAEConfig(image_shape=(3, 8, 6), num_classes=2))
    assert x.shape == (5, 3, 8, 6) and float(x.min()) >= 0 and float(x.max()) <= 1
    assert y.tolist() == [0, 1, 0, 1, 0]
    tokens = spec(make_inputs=lambda n, config, gen: torch.zeros(n, 16, dtype=torch.long))
    x, y = tokens.dummy_inputs(2, AEConfig())
    assert x.shape == (2, 16) and x.dtype == torch.long and y is None


def test_aekit_models_lists_capabilities_and_presets(run_cli):
    code, out, _ = run_cli("models")
    lines = {line.split()[0]: line for line in out.splitlines()}
    assert code == 0 and list(lines) == list(SPECS)
    assert lines["cvae"].endswith("[variational, prior, conditional]")
    assert "[prior, own training step]" in lines["aae"] and "variational" not in lines["aae"]
    assert lines["vae"].endswith("[variational, prior]; presets: lesson")
    assert lines["conv-ae"].endswith("; presets: lesson") and "[" not in lines["ae"]


def test_a_spec_imports_only_aekit_modules():
    lazy = spec(model="os:system", config="aekit.models.ae:AEConfig")  # nothing imported yet
    with pytest.raises(AekitError, match=r"'aekit.module:Name', got 'os:system'"):
        _ = lazy.model_class
