from __future__ import annotations

import json

import pytest

from aekit.config import (
    RunConfig,
    apply_overrides,
    from_dict,
    load_config_file,
    parse_override,
    to_dict,
)
from aekit.errors import AekitError
from aekit.training.config import TrainConfig


def test_round_trip_through_json():
    config = RunConfig(model={"latent_dim": 8, "channels": [4, 8]})
    again = from_dict(RunConfig, json.loads(json.dumps(to_dict(config))))
    assert again == config


@pytest.mark.parametrize(
    "text, key, value",
    [
        ("train.lr=1e-3", ["train", "lr"], 1e-3),
        ("model.channels=[16, 8]", ["model", "channels"], [16, 8]),
        ("model.arch=lesson", ["model", "arch"], "lesson"),
        ("train.patience=null", ["train", "patience"], None),
        ("train.channels_last=false", ["train", "channels_last"], False),
    ],
)
def test_parse_override(text, key, value):
    assert parse_override(text) == (key, value)


def test_overrides_apply_and_are_type_checked():
    base = to_dict(RunConfig())
    config = from_dict(RunConfig, apply_overrides(base, ["train.epochs=3", "train.lr=1"]))
    assert (
        config.train.epochs == 3 and config.train.lr == 1.0 and isinstance(config.train.lr, float)
    )
    with pytest.raises(AekitError, match=r"config\.train\.epochs must be an integer, got 2.5"):
        from_dict(RunConfig, apply_overrides(base, ["train.epochs=2.5"]))
    with pytest.raises(AekitError, match="must be true or false"):
        from_dict(RunConfig, apply_overrides(base, ["train.channels_last=1"]))


@pytest.mark.parametrize(
    "override, fragment",
    [
        ("train.learning_rate=1", "unknown key 'train.learning_rate'"),
        ("trian.lr=1", "unknown key 'trian'"),
        ("train.lr.x=1", "unknown key 'train.lr.x'"),
        ("train.lr", "key=value"),
        ("=3", "key=value"),
    ],
)
def test_bad_overrides(override, fragment):
    with pytest.raises(AekitError, match=fragment):
        apply_overrides(to_dict(RunConfig()), [override])


def test_unknown_key_in_a_table_names_its_path():
    with pytest.raises(AekitError, match=r"unknown key run\.train\.epoch;"):
        from_dict(RunConfig, {"train": {"epoch": 3}}, where="run")


def test_train_config_rejects_impossible_values():
    for bad in ({"batch_size": 0}, {"epochs": 0}, {"lr": -1.0}, {"precision": "fp16"}):
        with pytest.raises(AekitError):
            TrainConfig(**bad)


def test_config_files(tmp_path):
    (tmp_path / "a.toml").write_text("[train]\nepochs = 4\n[model]\nlatent_dim = 8\n")
    assert load_config_file(tmp_path / "a.toml") == {
        "train": {"epochs": 4},
        "model": {"latent_dim": 8},
    }
    (tmp_path / "b.json").write_text('{"train": {"epochs": 2}}')
    assert load_config_file(tmp_path / "b.json")["train"]["epochs"] == 2
    (tmp_path / "c.json").write_text("{not json")
    with pytest.raises(AekitError, match="is not valid"):
        load_config_file(tmp_path / "c.json")
    (tmp_path / "d.yaml").write_text("a: 1")
    with pytest.raises(AekitError, match=".json or .toml"):
        load_config_file(tmp_path / "d.yaml")
    with pytest.raises(AekitError, match="does not exist"):
        load_config_file(tmp_path / "missing.toml")
