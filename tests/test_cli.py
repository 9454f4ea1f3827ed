"""The command line end to end on a tiny .npz dataset: train, eval, reconstruct, embed, errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from aekit import load_run, reconstruct
from aekit.modalities.images.data import read_image, write_image
from aekit.training import checkpoint as ckpt

FAST = ["--epochs", "2", "--batch-size", "16", "--no-progress", "--set", "model.channels=[8, 16]"]


@pytest.fixture
def trained(tmp_path, tiny_npz, run_cli):
    out = tmp_path / "run"
    code, stdout, stderr = run_cli(
        "train", "conv-ae", "--data", tiny_npz, "--latent-dim", "4", "--out", out, *FAST
    )
    assert code == 0, stderr
    assert "trained 2 epochs" in stdout and f"aekit eval {out}" in stdout
    return out


def test_train_writes_a_complete_run_directory(trained):
    names = {p.name for p in trained.iterdir()}
    assert {ckpt.CONFIG, ckpt.WEIGHTS, ckpt.CHECKPOINT, ckpt.METRICS} <= names
    assert not [n for n in names if n.endswith(".tmp")]
    config = json.loads((trained / ckpt.CONFIG).read_text())
    assert config["model_name"] == "conv-ae"
    assert config["model"]["latent_dim"] == 4 and config["model"]["image_shape"] == [1, 16, 16]
    assert config["train"]["epochs"] == 2
    rows = [json.loads(line) for line in (trained / ckpt.METRICS).read_text().splitlines()]
    assert [r["epoch"] for r in rows] == [1, 2]
    assert rows[1]["val_loss"] < rows[0]["train_loss"]


def test_eval_prints_model_beside_pca(trained, run_cli):
    code, out, err = run_cli("eval", trained, "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["code_dim"] == 4 and report["n_images"] == 64
    assert set(report["metrics"]) == {"mse", "bce", "psnr", "ssim"}
    assert set(report["baselines"]) == {"PCA(4)"}
    pca = report["baselines"]["PCA(4)"]
    assert 0 < pca["mse"] < 0.2 and 0 < report["metrics"]["mse"] < 0.2
    code, out, _ = run_cli("eval", trained)
    assert code == 0 and "PCA(4)" in out and "psnr" in out and "code dimension 4" in out


def test_reconstruct_image_files(trained, tmp_path, run_cli):
    from tests.conftest import shapes_images

    images = shapes_images(2, seed=9)[0]
    inputs = []
    for i, image in enumerate(images):
        inputs.append(tmp_path / f"in{i}.png")
        write_image(inputs[-1], image)
    code, out, err = run_cli("reconstruct", trained, *inputs, "--out", tmp_path / "recon")
    assert code == 0, err
    expected = reconstruct(load_run(trained).model, images)  # the same model, in memory
    for i in range(2):
        result = read_image(tmp_path / "recon" / f"in{i}.png")
        assert result.shape == (1, 16, 16)
        assert np.abs(result.astype(float) - expected[i] * 255).max() <= 0.5 + 1e-6  # rounding


def test_reconstruct_refuses_wrong_size_unless_resize(trained, tmp_path, run_cli):
    big = tmp_path / "big.png"
    write_image(big, np.zeros((1, 20, 24), np.uint8))
    code, _, err = run_cli("reconstruct", trained, big, "--out", tmp_path / "r")
    assert code == 2 and "24x20" in err and "--resize" in err
    assert not (tmp_path / "r").exists()  # nothing written
    code, _, err = run_cli("reconstruct", trained, big, "--out", tmp_path / "r", "--resize")
    assert code == 0, err
    assert read_image(tmp_path / "r" / "big.png").shape == (1, 16, 16)


def test_embed_writes_codes_and_labels(trained, tmp_path, run_cli):
    out = tmp_path / "emb.npz"
    code, _, err = run_cli("embed", trained, "--split", "test", "--out", out)
    assert code == 0, err
    with np.load(out, allow_pickle=False) as z:
        assert z["z"].shape == (64, 4) and z["labels"].shape == (64,)
        assert np.isfinite(z["z"]).all() and z["z"].std() > 0


def test_resume_continues_and_refuses_new_options(trained, run_cli):
    code, _, err = run_cli("train", "conv-ae", "--out", trained, "--no-progress")
    assert code == 2 and "already holds a run" in err
    code, _, err = run_cli("train", "--resume", "--out", trained, "--epochs", "3")
    assert code == 2 and "--resume continues a run exactly" in err
    code, out, err = run_cli("train", "--resume", "--out", trained, "--no-progress")
    assert code == 0, err  # already finished: nothing more to do, history intact
    assert len(ckpt.read_metrics(trained)) == 2


TIMING = ("seconds", "images_per_s")


def assert_same_run(expected, actual) -> None:
    """Bitwise the same weights, checkpoint and metrics; only timing fields may differ."""
    import torch

    def rows(run):
        return [{k: v for k, v in row.items() if k not in TIMING} for row in ckpt.read_metrics(run)]

    assert rows(actual) == rows(expected)
    for name in (ckpt.WEIGHTS, ckpt.CHECKPOINT):
        want, want_meta = ckpt.load_tensors(expected / name, require_hash=True)
        got, got_meta = ckpt.load_tensors(actual / name, require_hash=True)
        assert got.keys() == want.keys()
        assert all(torch.equal(got[key], want[key]) for key in want), name
        for meta in (want_meta, got_meta):
            for row in meta.get("history", []):
                for field in TIMING:
                    row.pop(field)
        assert got_meta == want_meta


def test_a_requeued_job_reruns_its_own_command_with_resume(
    tmp_path, tiny_npz, run_cli, monkeypatch
):
    """The job's command carries --resume from its first attempt: with no run in --out yet it
    starts one; after the job dies (here right after epoch 1's checkpoint, where a kill leaves
    the directory as a callback that raises does) the same command continues it, and the run
    ends bitwise as one that was never stopped."""

    def command(out):
        return ["train", "conv-ae", "--data", tiny_npz, "--latent-dim", "4", "--out", out,
                *FAST, "--resume"]  # fmt: skip

    requeued_job_continues(command, tmp_path, run_cli, monkeypatch)


def test_a_blind_superres_run_resumes_bitwise(tmp_path, tiny_npz, run_cli, monkeypatch):
    """Blind degradations draw a kernel, blur, noise and JPEG quality per image from the
    trainer's generator: a run stopped after epoch 1 and resumed ends as the straight one."""

    def command(out):
        return ["train", "sr", "--data", tiny_npz, "--task", "superres", "--out", out,
                "--epochs", "2", "--batch-size", "16", "--no-progress", "--set",
                "model.width=8", "--set", "task.degradations=noise=0-0.05;jpeg=70-95",
                "--resume"]  # fmt: skip

    requeued_job_continues(command, tmp_path, run_cli, monkeypatch)


def requeued_job_continues(command, tmp_path, run_cli, monkeypatch) -> None:
    """`command(out)` (a train command carrying --resume) run once whole, and once as a job that
    dies right after epoch 1's checkpoint (a callback that raises leaves the directory as a kill
    there does) and is then re-run as it was: both runs end bitwise the same."""
    import aekit.runs

    reference, job = tmp_path / "reference", tmp_path / "job"
    code, _, err = run_cli(*command(reference))
    assert code == 0, err

    class Died(Exception):
        pass

    def die(row, model):
        raise Died

    train_run = aekit.runs.train_run
    monkeypatch.setattr(
        aekit.runs, "train_run", lambda *a, **k: train_run(*a, **k, callbacks=[die])
    )
    with pytest.raises(Died):
        run_cli(*command(job))
    assert len(ckpt.read_metrics(job)) == 1
    monkeypatch.setattr(aekit.runs, "train_run", train_run)
    code, out, err = run_cli(*command(job))
    assert code == 0, err
    assert "trained 2 epochs" in out
    assert_same_run(reference, job)


def test_resume_refuses_settings_that_contradict_the_saved_run(
    trained, tiny_npz, tmp_path, run_cli
):
    def untouched():
        assert len(ckpt.read_metrics(trained)) == 2
        assert json.loads((trained / ckpt.CONFIG).read_text())["train"]["epochs"] == 2

    same = ["train", "conv-ae", "--data", tiny_npz, "--latent-dim", "4", "--out", trained, *FAST]
    code, _, err = run_cli(*same, "--resume", "--latent-dim", "8", "--epochs", "3")
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "model.latent_dim is 4 in the saved run, 8 given" in err
    assert "train.epochs is 2 in the saved run, 3 given" in err
    assert "learning-rate schedule" in err  # why more epochs cannot continue the same run
    untouched()
    code, _, err = run_cli(*same, "--resume", "--set", "train.lr=0.5", "--set", "data.seed=1")
    assert code == 2 and "train.lr is 0.002 in the saved run, 0.5 given" in err
    assert "data.seed is 0 in the saved run, 1 given" in err
    code, _, err = run_cli("train", "vae", "--out", trained, "--resume")
    assert code == 2 and "model_name is 'conv-ae' in the saved run, 'vae' given" in err
    settings = tmp_path / "s.toml"
    settings.write_text('[data]\nname = "digits"\n')
    code, _, err = run_cli("train", "--resume", "--out", trained, "--config", settings)
    assert code == 2 and f"data.name is '{tiny_npz}' in the saved run, 'digits' given" in err
    untouched()
    code, out, err = run_cli(*same, "--resume", "--config", trained / ckpt.CONFIG)
    assert code == 0, err  # its own config.json as --config, and every flag as it was
    untouched()


def test_resume_without_a_run_needs_the_model(tmp_path, run_cli):
    code, _, err = run_cli("train", "--resume", "--out", tmp_path / "none", "--epochs", "3")
    assert code == 2 and "holds no run yet" in err and "model included" in err
    code, _, err = run_cli("train", "--resume", "--out", tmp_path / "none")
    assert code == 2 and "not an aekit run directory" in err
    assert not (tmp_path / "none").exists()


def test_dry_run_writes_nothing(tmp_path, tiny_npz, run_cli):
    out = tmp_path / "never"
    code, stdout, err = run_cli("train", "ae", "--data", tiny_npz, "--out", out, "--dry-run")
    assert code == 0, err
    assert "dry run: ae with" in stdout and "code dimension 32" in stdout
    assert not out.exists()


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["train", "conv-ae", "--latent-dim", "0"], "latent_dim must be an integer >= 1"),
        (["train", "conv-ae", "--batch-size", "0"], "batch_size must be >= 1"),
        (["train", "conv-ae", "--set", "train.lr=abc"], "train.lr must be a number"),
        (["train", "conv-ae", "--set", "train.nope=1"], "unknown key 'train.nope'"),
        (["train", "ae", "--arch", "lesson"], "model 'ae' has no option 'arch'"),
        (["train", "vgg"], "unknown model 'vgg'"),
        (["train", "conv-ae", "--data", "imagenet"], "imagenet"),
        (["train", "conv-ae", "--precision", "fp16"], "precision must be one of"),
        (["train"], "name a model"),
        (["train", "conv-vae", "--beta", "-1"], "beta must be a finite number >= 0"),
        (["train", "conv-ae", "--beta", "2"], "model 'conv-ae' has no option 'beta'"),
        (["train", "vae", "--preset", "huge"], "model 'vae' has no preset 'huge'"),
        (["train", "vae", "--threads", "many"], "--threads takes a number or auto"),
        (["train", "vae", "--threads", "0"], "--threads must be at least 1"),
        (["eval", "."], "not an aekit run directory"),
        (["embed", ".", "--out", "x.txt"], "must end in .npz"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path, tiny_npz, run_cli, monkeypatch, args, fragment):
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    full = [*args, "--out", "r", "--dry-run"] if args[0] == "train" else args
    if args[0] == "train" and "--data" not in args:
        full += ["--data", str(tiny_npz)]
    code, _, err = run_cli(*full)
    assert code == 2
    assert err.startswith("aekit: error: ") and fragment in err
    assert len(err.strip().splitlines()) == 1
    assert list(work.iterdir()) == []  # nothing written


def test_config_file_and_set_precedence(tmp_path, tiny_npz, run_cli):
    config = tmp_path / "c.toml"
    config.write_text("[train]\nepochs = 7\nlr = 0.01\n[model]\nlatent_dim = 3\n")
    code, out, err = run_cli(
        "train", "conv-ae", "--data", tiny_npz, "--config", config, "--epochs", "5",
        "--set", "train.lr=0.5", "--out", tmp_path / "r", "--dry-run",
    )  # fmt: skip
    assert code == 0, err
    plan = json.loads(out[: out.index("dry run:")])
    assert plan["train"]["epochs"] == 5  # the flag beats the file
    assert plan["train"]["lr"] == 0.5  # --set beats both
    assert plan["model"]["latent_dim"] == 3  # the file beats the default


def test_lesson_preset_sits_under_the_users_own_settings(tmp_path, tiny_npz, run_cli):
    code, out, err = run_cli(
        "train", "vae", "--preset", "lesson", "--data", tiny_npz, "--epochs", "3",
        "--beta", "0.5", "--out", tmp_path / "r", "--dry-run",
    )  # fmt: skip
    assert code == 0, err
    plan = json.loads(out[: out.index("dry run:")])
    assert plan["train"]["optimizer"] == "rmsprop" and plan["train"]["batch_size"] == 100
    assert plan["model"]["hidden"] == [512] and plan["model"]["latent_dim"] == 2
    assert plan["train"]["epochs"] == 3 and plan["model"]["beta"] == 0.5  # flags win
    assert plan["task"]["binarize"] is False
    code, out, err = run_cli("train", "vae", "--data", tiny_npz, "--binarize", "--dry-run",
                             "--out", tmp_path / "r")  # fmt: skip
    assert code == 0, err
    assert json.loads(out[: out.index("dry run:")])["task"]["binarize"] is True


def test_threads_are_set_for_training(tmp_path, tiny_npz, run_cli, monkeypatch):
    import torch

    before = torch.get_num_threads()
    try:
        code, _, err = run_cli("train", "ae", "--data", tiny_npz, "--out", tmp_path / "r",
                               "--epochs", "1", "--threads", "1", "--no-progress")  # fmt: skip
        assert code == 0, err
        assert "training with 1 torch thread (as asked)" in err
        assert torch.get_num_threads() == 1
        monkeypatch.setattr("os.getloadavg", lambda: (9.0, 9.0, 9.0))
        code, _, err = run_cli("train", "ae", "--data", tiny_npz, "--out", tmp_path / "s",
                               "--threads", "auto", "--dry-run")  # fmt: skip
        assert code == 0 and "1 torch thread (load average 9.0" in err
    finally:
        torch.set_num_threads(before)


def test_models_and_datasets_listings(run_cli):
    code, out, _ = run_cli("models")
    assert code == 0 and "conv-ae" in out and "ae " in out
    code, out, _ = run_cli("datasets")
    assert code == 0
    for name in ("mnist", "fashion-mnist", "kmnist", "digits", "cifar10"):
        assert name in out
