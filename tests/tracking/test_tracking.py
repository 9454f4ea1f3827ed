"""`aekit train --log`: what TensorBoard's own reader (and MLflow's client) find after a tiny run,
checked against metrics.jsonl, the source of truth; resume; bad names and missing extras."""

from __future__ import annotations

import io
import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from aekit.errors import AekitError
from aekit.models import build_model, spec_of
from aekit.tracking import check_names, hyperparameters
from aekit.training.config import TrainConfig
from aekit.training.trainer import lr_at

# 320 rows, 10% held out: 288 training rows, 4 steps of 64 per epoch, 32 validation rows
STEPS_PER_EPOCH, EPOCHS = 4, 2
FAST = ["--epochs", str(EPOCHS), "--batch-size", "64", "--no-progress", "--threads", "1",
        "--set", "model.channels=[8, 16]", "--latent-dim", "4", "--lr", "3e-3"]  # fmt: skip


def train(run_cli, data: Path, out: Path, *extra: str) -> None:
    code, _, err = run_cli("train", "conv-vae", "--data", data, "--out", out, *FAST, *extra)
    assert code == 0, err


def board(run: Path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(run / "tensorboard"), size_guidance={"scalars": 0, "images": 0})
    return events.Reload()


def metrics(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def steps(events, tag: str) -> list[int]:
    return [e.step for e in events.Scalars(tag)]


@pytest.fixture(scope="module")
def tracked(tmp_path_factory):
    """One tiny conv-vae run with --log tensorboard, trained through the CLI."""
    from tests.conftest import shapes_npz

    root = tmp_path_factory.mktemp("tracked")
    data = shapes_npz(root / "shapes.npz")
    out = root / "run"
    from aekit.cli import main

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sys, "argv", ["aekit", "train", "conv-vae", "--data", str(data), "--out",
                                    str(out), *FAST, "--log", "tensorboard"])  # fmt: skip
        try:
            main()
        except SystemExit as exc:
            assert exc.code in (0, None)
    return out


def test_every_step_holds_every_loss_part_its_lr_and_a_rate(tracked):
    events = board(tracked)
    every = list(range(1, STEPS_PER_EPOCH * EPOCHS + 1))  # the global step, from 1
    for part in ("loss", "recon", "kl"):
        assert steps(events, f"step/{part}") == every, part
    config = TrainConfig(**json.loads((tracked / "config.json").read_text())["train"])
    lrs = [e.value for e in events.Scalars("step/lr")]
    assert lrs == pytest.approx([lr_at(s - 1, len(every), config) for s in every], rel=1e-6)
    assert lrs[0] > lrs[-1]  # the cosine schedule, not a constant
    assert steps(events, "step/images_per_s") == every  # a CPU reads every step
    assert all(e.value > 0 for e in events.Scalars("step/images_per_s"))
    # The parts add up per step as the model defines them: loss = recon + kl (beta 1)
    for loss, recon, kl in zip(*(events.Scalars(f"step/{p}") for p in ("loss", "recon", "kl")),
                               strict=True):  # fmt: skip
        assert loss.value == pytest.approx(recon.value + kl.value, rel=1e-5)


def test_each_epoch_holds_its_metrics_jsonl_row_at_its_last_step(tracked):
    events = board(tracked)
    rows = metrics(tracked)
    assert len(rows) == EPOCHS
    for row in rows:
        step = row["epoch"] * STEPS_PER_EPOCH
        keys = [k for k in row if k != "epoch"]
        assert {"train_loss", "train_kl", "val_loss", "val_kl", "lr", "images_per_s"} <= set(keys)
        for key in keys:
            (logged,) = [e for e in events.Scalars(f"epoch/{key}") if e.step == step]
            assert logged.value == pytest.approx(row[key], rel=1e-6), key  # float32 in the file
        # the epoch's train loss is the mean of its steps' losses (equal batches)
        losses = [e.value for e in events.Scalars("step/loss") if step - STEPS_PER_EPOCH < e.step
                  <= step]  # fmt: skip
        assert row["train_loss"] == pytest.approx(sum(losses) / len(losses), rel=1e-5)


def test_each_epoch_has_a_picture_of_the_same_rows_rebuilt_by_the_model_of_that_epoch(tracked):
    pictures = board(tracked).Images("reconstructions")
    assert [p.step for p in pictures] == [4, 8]
    first, last = (np.asarray(Image.open(io.BytesIO(p.encoded_image_string))) for p in pictures)
    # 8 columns of 16x16 images and 2 rows (target, output), 2 white pixels between them
    assert first.shape == (2 * 18 + 2, 8 * 18 + 2, 3)
    target, output = slice(2, 18), slice(20, 36)
    assert np.array_equal(first[target], last[target])  # the same validation rows
    assert not np.array_equal(first[output], last[output])  # another epoch's model
    assert first[target].std() > 0 and first[0].min() == 255  # shapes, white padding


def test_the_resolved_config_is_logged_as_hyperparameters_and_text(tracked):
    from tensorboard.plugins.hparams.plugin_data_pb2 import HParamsPluginData
    from tensorboard.util.tensor_util import make_ndarray

    events = board(tracked)
    content = events.PluginTagToContent("hparams")["_hparams_/session_start_info"]
    hparams = HParamsPluginData.FromString(content).session_start_info.hparams
    saved = json.loads((tracked / "config.json").read_text())
    assert hparams["train.lr"].number_value == pytest.approx(3e-3)
    assert hparams["model_name"].string_value == "conv-vae"
    assert hparams["model.latent_dim"].number_value == 4
    assert hparams["model.channels"].string_value == "[8, 16]"
    assert hparams["model.image_shape"].string_value == "[1, 16, 16]"  # resolved from the data
    channels_last = json.dumps(saved["train"]["channels_last"])  # a bool, as its JSON text
    assert hparams["train.channels_last"].string_value == channels_last
    (text,) = events.Tensors("config/text_summary")
    logged = make_ndarray(text.tensor_proto).item().decode()
    assert json.loads(logged.strip("`\n")) == hyperparameters(saved)


def test_a_resumed_run_shows_each_step_once(tmp_path, tiny_npz, run_cli):
    out = tmp_path / "run"
    train(run_cli, tiny_npz, out, "--log", "tensorboard")
    # As if killed in epoch 2 after it had logged its steps and its row, before its checkpoint
    # was saved: the checkpoint of epoch 1 is the newest there is.
    (out / "checkpoint.prev.safetensors").replace(out / "checkpoint.safetensors")
    code, _, err = run_cli("train", "--resume", "--out", out, "--log", "tensorboard",
                           "--no-progress", "--threads", "1")  # fmt: skip
    assert code == 0, err
    assert len(list((out / "tensorboard").iterdir())) == 2  # one event file per process
    events = board(out)
    assert steps(events, "step/loss") == list(range(1, STEPS_PER_EPOCH * EPOCHS + 1))
    assert steps(events, "epoch/val_loss") == [4, 8]
    final = [e.value for e in events.Scalars("epoch/val_loss")]
    assert final == pytest.approx([row["val_loss"] for row in metrics(out)], rel=1e-6)
    assert [p.step for p in events.Images("reconstructions")] == [4, 8]


def test_log_none_tracks_nothing_and_names_are_checked():
    assert check_names([]) == check_names(["none"]) == ()
    assert check_names(["TensorBoard", "tensorboard"]) == ("tensorboard",)
    with pytest.raises(AekitError, match="--log takes tensorboard, mlflow or none"):
        check_names(["wandb"])
    with pytest.raises(AekitError, match="--log none means no tracking"):
        check_names(["none", "tensorboard"])


def test_a_bad_log_name_is_one_line_before_any_data(tmp_path, run_cli):
    code, out, err = run_cli("train", "conv-ae", "--data", tmp_path / "missing.npz", "--out",
                             tmp_path / "run", "--log", "wandb")  # fmt: skip
    assert (code, out) == (2, "")
    names = "tensorboard, mlflow or none (repeat it for several)"
    assert err == f"aekit: error: --log takes {names}, got 'wandb'\n"


@pytest.mark.parametrize(
    ("module", "name", "extra"),
    [("torch.utils.tensorboard", "tensorboard", "track"), ("mlflow", "mlflow", "mlflow")],
)
def test_a_missing_tracker_is_one_line_naming_its_extra(
    module, name, extra, tmp_path, tiny_npz, run_cli, monkeypatch
):
    monkeypatch.setitem(sys.modules, module, None)  # as if it were not installed
    code, out, err = run_cli("train", "conv-ae", "--data", tiny_npz, "--out", tmp_path / "run",
                             "--log", name)  # fmt: skip
    assert (code, out) == (2, "")
    install = f"pip install 'aekit[{extra}]'"
    assert err == f"aekit: error: --log {name} needs the {extra} extra: {install}\n"
    assert not (tmp_path / "run").exists()


def test_mlflow_gets_the_same_numbers_picture_and_settings(tmp_path, tiny_npz, run_cli,
                                                           monkeypatch):  # fmt: skip
    pytest.importorskip("mlflow", reason="the mlflow extra is not installed (not in `all`)")
    from mlflow.tracking import MlflowClient

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_EXPERIMENT_NAME", raising=False)
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # restored after the test
    out = tmp_path / "run"
    train(run_cli, tiny_npz, out, "--log", "mlflow", "--log", "tensorboard")
    record = json.loads((out / "mlflow.json").read_text())
    assert record["tracking_uri"] == (out / "mlruns").resolve().as_uri()
    client = MlflowClient(record["tracking_uri"])
    run = client.get_run(record["run_id"])
    assert run.info.status == "FINISHED" and run.info.run_name == "run"
    assert run.data.params["train.lr"] == "0.003" and run.data.params["model_name"] == "conv-vae"
    events = board(out)
    for tag in events.Tags()["scalars"]:  # every TensorBoard scalar, with the same values
        history = sorted((m.step, m.value) for m in client.get_metric_history(run.info.run_id, tag))
        logged = [(e.step, e.value) for e in events.Scalars(tag)]
        assert [s for s, _ in history] == [s for s, _ in logged], tag
        assert [v for _, v in history] == pytest.approx([v for _, v in logged], rel=1e-6), tag
    images = [a.path for a in client.list_artifacts(run.info.run_id, "images")]
    assert sum(p.endswith(".png") for p in images) == EPOCHS


def test_image_pictures_show_input_output_and_target_and_leave_the_model_as_it_was():
    from aekit.modalities.images import IMAGES
    from tests.conftest import shapes_images

    rows, labels = shapes_images(5, seed=3)
    model = build_model("sr", {**spec_of("sr").tiny, "image_shape": [1, 8, 8], "scale": 2})
    task = IMAGES.build_task({"name": "superres", "scale": 2})
    state = torch.get_rng_state()
    name, image = IMAGES.picture(model.train(), task, rows, labels)
    assert model.training and torch.equal(torch.get_rng_state(), state)
    assert name == "reconstructions" and image.dtype == np.uint8
    assert image.shape == (3 * 18 + 2, 5 * 18 + 2, 3)  # input (enlarged), output, target
    target = image[2 * 18 + 2 : 3 * 18, 2:18, 0]
    assert np.array_equal(target, rows[0, 0])  # the first row as it is stored
    low = image[2:18, 2:18, 0]
    assert np.array_equal(low[::2, ::2], low[1::2, 1::2])  # nearest-neighbour enlarged 8 -> 16


def test_melody_pictures_are_piano_rolls_of_windows_and_their_reconstructions():
    from aekit.modalities import get_modality

    MELODY = get_modality("melody")

    model = build_model("melody-vae", dict(spec_of("melody-vae").tiny)).eval()
    rows = np.random.default_rng(0).integers(0, model.config.vocab_size, (6, 32), np.uint8)
    state = torch.get_rng_state()
    name, image = MELODY.picture(model, None, rows)
    assert not model.training and torch.equal(torch.get_rng_state(), state)
    assert name == "reconstructions" and image.dtype == np.uint8 and image.shape[2] == 3
    assert image.shape[0] > image.shape[1] / 4 and not math.isclose(image.std(), 0)
