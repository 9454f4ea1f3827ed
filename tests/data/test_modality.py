"""The data seam: the modality registry, the image modality, what the trainer may know, run
configs that record their modality, and datasets across modalities."""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
from tests.conftest import shapes_images

import aekit
from aekit import datasets
from aekit.config import RunConfig, from_dict, to_dict
from aekit.errors import AekitError
from aekit.modalities import (
    MODALITIES,
    DatasetInfo,
    check_run_config,
    get_modality,
    identity,
    prepared_task,
)
from aekit.modalities.images import IMAGES
from aekit.modalities.images.data import ImageSet, write_image
from aekit.modalities.images.tasks import TaskConfig
from aekit.models import build_model
from aekit.runs import build_for_data, default_run_config, load_data, run_data
from aekit.training.config import TrainConfig
from aekit.training.trainer import Trainer

SRC = Path(aekit.__file__).parent


# --- the registry -------------------------------------------------------------------------------


def test_the_registry_names_the_image_modality():
    assert get_modality("images") is IMAGES and IMAGES.name == "images"
    assert "images" in MODALITIES


def test_an_unknown_modality_is_one_line_naming_the_known_ones():
    with pytest.raises(AekitError, match=r"unknown modality 'image' \(did you mean 'images'\?\)"):
        get_modality("image")
    with pytest.raises(AekitError, match="known: images"):
        get_modality(["images"])  # type: ignore[arg-type]  # from a fuzzed config.json


# --- what the core may import and mention -------------------------------------------------------


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def test_config_imports_no_modality_and_no_data():
    assert not any(".modalities" in m or ".data" in m for m in imported_modules(SRC / "config.py"))
    loaded = subprocess.run(
        [sys.executable, "-c", "import sys, aekit.config; print(sorted(sys.modules))"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert "aekit.modalities" not in loaded


def test_the_trainer_knows_no_pixels():
    # the loop, the step, the batches and the validation pass: where batches are handled
    for name in ("trainer.py", "steps.py", "batches.py", "metrics.py"):
        text = (SRC / "training" / name).read_text()
        for word in (r"pixels?", r"\bimages?\b", r"\b255\b", r"to_model_input"):
            assert not re.search(word, text, re.IGNORECASE), f"{name} mentions {word}"
    for path in (SRC / "training").glob("*.py"):
        assert "modalities.images" not in path.read_text(), path.name


@pytest.mark.parametrize(
    "module",
    ["aekit.modalities.images.tasks", "aekit.training.trainer", "aekit.evaluation.evaluate",
     "aekit.datasets", "aekit.modalities.images.data", "aekit.inference"],
)  # fmt: skip
def test_each_module_imports_first_without_a_circle(module):
    subprocess.run([sys.executable, "-c", f"import {module}"], check=True, capture_output=True)


# --- tasks as the trainer calls them ------------------------------------------------------------


def test_plain_callables_get_float_batches_and_modality_tasks_prepare_their_own():
    raw = torch.from_numpy(shapes_images(4)[0])  # uint8 (4, 1, 16, 16)
    inputs, target = prepared_task(identity)(raw, torch.Generator())
    assert inputs.dtype == torch.float32 and torch.equal(inputs, raw.float() / 255)

    task = IMAGES.build_task({"name": "identity"})
    fast = prepared_task(task, TrainConfig(channels_last=True))(raw, torch.Generator())[0]
    assert torch.equal(fast, inputs) and fast.is_contiguous(memory_format=torch.channels_last)

    @dataclass
    class Tokens:  # a task of another modality: it prepares its own rows
        seen: list

        def prepare(self, raw, train):
            self.seen.append((raw.dtype, train))
            return raw.long()

        def __call__(self, batch, generator):
            return batch, batch

    tokens = Tokens([])
    config = TrainConfig()
    assert prepared_task(tokens, config)(raw, torch.Generator())[0].dtype == torch.int64
    assert tokens.seen == [(torch.uint8, config)]


def test_the_trainer_hands_raw_rows_to_a_task_that_prepares_them(tmp_path):
    images, labels = shapes_images(32, seed=4)
    seen = []

    class Scaled:  # records what the trainer hands over, then prepares like the image tasks
        def prepare(self, raw, train):
            seen.append(raw.dtype)
            return raw.float() / 255

        def __call__(self, batch, generator):
            return batch, batch

    model = build_model("conv-ae", {"channels": [4], "latent_dim": 2, "image_shape": [1, 16, 16]})
    config = TrainConfig(epochs=1, batch_size=16, precision="fp32")
    Trainer(model, config, task=Scaled(), progress=False).fit(ImageSet(images, labels))
    assert seen and set(seen) == {torch.uint8}


def test_an_empty_split_is_named_by_its_rows():
    model = build_model("conv-ae", {"channels": [4], "latent_dim": 2, "image_shape": [1, 16, 16]})
    empty = ImageSet(np.zeros((0, 1, 16, 16), np.uint8), None)
    with pytest.raises(AekitError, match="the training split has 0 images"):
        Trainer(model, TrainConfig(epochs=1), progress=False).fit(empty)


# --- run configs record their modality and their task table -----------------------------------


def test_an_older_config_without_modality_is_an_image_run():
    data = to_dict(RunConfig())
    del data["modality"]
    config = check_run_config(from_dict(RunConfig, data, where="run"))
    assert config.modality == "images" and config.task == to_dict(TaskConfig())


def test_a_typed_task_config_is_kept_as_its_table():
    config = RunConfig(task=TaskConfig(name="denoise", noise="mask:0.2"))
    assert config.task["noise"] == "mask:0.2"
    assert from_dict(RunConfig, json.loads(json.dumps(to_dict(config)))) == config


@pytest.mark.parametrize(
    "table, fragment",
    [({"scale": 3}, "task.scale must be 2 or 4, got 3"),
     ({"binarize": 1}, "run.task.binarize must be true or false"),
     ({"nosie": "gaussian:0.1"}, "unknown key run.task.nosie"),
     ({"noise": "gaussian:nan"}, "bad noise spec 'gaussian:nan'")],
)  # fmt: skip
def test_the_modality_checks_the_task_table_in_one_line(table, fragment):
    with pytest.raises(AekitError, match=re.escape(fragment)) as caught:
        check_run_config(RunConfig(task=table))
    assert "\n" not in str(caught.value)


def test_a_config_of_an_unknown_modality_is_refused():
    with pytest.raises(AekitError, match="unknown modality 'sound'"):
        check_run_config(RunConfig(modality="sound"))


def test_default_run_config_lists_the_modality_task_table():
    config = default_run_config("conv-ae")
    assert config.modality == "images" and config.task == IMAGES.default_task()
    assert "image_shape" not in config.model  # the data gives it


def test_build_for_data_gives_the_model_what_the_task_makes_of_the_data():
    config = default_run_config("sr")
    config.task.update(name="superres", scale=2)
    model, task = build_for_data(config, (1, 16, 16))
    assert tuple(model.config.image_shape) == (1, 8, 8) and task.config.scale == 2
    wrong = default_run_config("conv-ae")
    wrong.task["name"] = "superres"
    with pytest.raises(AekitError, match="use the sr model for --task superres"):
        build_for_data(wrong, (1, 16, 16))


# --- datasets across modalities -------------------------------------------------------------


class FakeTokens:
    """A second modality for the tests: it claims names that start with ``midi:``."""

    name = "fake"

    def claims(self, data_name):
        return data_name.startswith(("midi:", "folder:"))

    def list_datasets(self, data_dir=None):
        return [DatasetInfo("midi:DIR", "melodies", None, "pass midi:/path")]

    def load(self, data):
        return f"tokens of {data.name}"


FAKE = FakeTokens()


@pytest.fixture
def fake_modality(monkeypatch):
    # The fake stands in for a token modality claiming midi:; the real melody one claims it too,
    # so it steps aside while the fake is registered.
    monkeypatch.delitem(MODALITIES, "melody", raising=False)
    monkeypatch.setitem(MODALITIES, "fake", "tests.data.test_modality:FAKE")


def test_a_dataset_name_is_claimed_by_one_modality(fake_modality, tmp_path):
    assert datasets.modality_of("fashion-mnist") == "images"
    assert datasets.modality_of(str(tmp_path)) == "images"  # a directory of images
    assert datasets.modality_of("midi:/tunes") == "fake"
    assert datasets.modality_of("no-such-set") is None
    with pytest.raises(AekitError, match="could be images or fake data"):
        datasets.modality_of("folder:x")
    names = [info.name for info in datasets.list_datasets()]
    assert "fashion-mnist" in names and names[-1] == "midi:DIR"


def test_load_dataset_goes_to_the_claiming_modality():
    data = aekit.load_dataset("digits", val_fraction=0.0)
    assert data.image_shape == (1, 8, 8) and len(data.val) == 0
    with pytest.raises(AekitError, match="unknown dataset 'fashon-mnist'; did you mean"):
        aekit.load_dataset("fashon-mnist", download=False)


def test_a_run_refuses_data_of_another_modality(fake_modality):
    config = RunConfig()
    config.data.name = "midi:/tunes"
    with pytest.raises(AekitError, match="'midi:/tunes' is fake data, but this run's model"):
        load_data(config)
    config.modality = "fake"
    assert load_data(config) == "tokens of midi:/tunes"


def test_run_data_honours_data_and_data_dir(tmp_path, tiny_npz):
    config = RunConfig()
    config.data.name = "digits"
    assert run_data(config).name == "digits"
    assert run_data(config, data=str(tiny_npz)).name == f"npz:{tiny_npz.resolve()}"
    with pytest.raises(AekitError, match="is not a directory"):
        run_data(config, data="mnist", data_dir=tmp_path / "missing")


# --- files --------------------------------------------------------------------------------------


def test_image_files_are_read_checked_and_written_by_the_modality(tmp_path):
    model = build_model("conv-ae", {"channels": [4], "latent_dim": 2, "image_shape": [1, 16, 16]})
    image = shapes_images(1, size=20)[0][0]
    write_image(tmp_path / "big.png", image)
    with pytest.raises(AekitError, match="is 20x20 but the model takes 16x16; pass --resize"):
        IMAGES.read_file(tmp_path / "big.png", model, resize=False)
    row = IMAGES.read_file(tmp_path / "big.png", model, resize=True)
    assert row.shape == (1, 16, 16) and row.dtype == np.uint8
    outputs = IMAGES.reconstruct(model, row[None])
    said = IMAGES.write_outputs([tmp_path / "out.png"], outputs)
    assert said == "1 images (16x16)" and (tmp_path / "out.png").is_file()
