"""The four uses end to end on tiny data: denoise, upscale, generate, perturb, latent-plot."""

from __future__ import annotations

import json

import numpy as np
import pytest

from aekit.modalities.images.data import read_image, write_image
from tests.conftest import shapes_images

FAST = ["--epochs", "2", "--batch-size", "16", "--no-progress"]
SMALL_AE = ["--set", "model.channels=[8, 16]"]


def train(run_cli, tmp_path, tiny_npz, name, *args):
    out = tmp_path / name
    code, _, err = run_cli("train", *args, "--data", tiny_npz, "--out", out, *FAST)
    assert code == 0, err
    return out


@pytest.fixture
def pngs(tmp_path):
    files = []
    for i, image in enumerate(shapes_images(3, seed=5)[0]):
        files.append(tmp_path / f"img{i}.png")
        write_image(files[-1], image)
    return files


def test_denoiser_trains_evaluates_beside_classical_filters_and_cleans_files(
    run_cli, tmp_path, tiny_npz, pngs
):
    run = train(run_cli, tmp_path, tiny_npz, "dn", "conv-ae", "--task", "denoise",
                "--noise", "gaussian:0.3", "--latent-dim", "8", *SMALL_AE)  # fmt: skip
    config = json.loads((run / "config.json").read_text())
    assert config["task"] == {"name": "denoise", "noise": "gaussian:0.3", "scale": 2,
                              "downscale": "random",
                              "degradations": "kernels=area,bilinear,bicubic,blur",
                              "patch": None, "binarize": False}  # fmt: skip
    code, out, err = run_cli("eval", run, "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["task"] == "denoise"
    names = list(report["baselines"])
    assert names[0] == "PCA(8)" and len(names) == 2  # PCA and the best classical denoiser
    assert names[1].split("(")[0] in {"gaussian", "median", "tv", "nlm"}
    code, _, err = run_cli("denoise", run, *pngs, "--out", tmp_path / "clean")
    assert code == 0, err
    assert read_image(tmp_path / "clean" / "img0.png").shape == (1, 16, 16)


def test_default_denoiser_is_a_blind_unet_scored_per_level(run_cli, tmp_path, tiny_npz, pngs):
    run = train(run_cli, tmp_path, tiny_npz, "blind", "conv-ae", "--task", "denoise",
                "--threads", "1", *SMALL_AE)  # fmt: skip
    config = json.loads((run / "config.json").read_text())
    assert config["task"]["noise"] == "gaussian:0.05-0.5"
    assert (config["model"]["arch"], config["model"]["loss"]) == ("unet", "mse")
    code, out, err = run_cli("eval", run, "--json")
    assert code == 0, err
    levels = [r["noise"] for r in json.loads(out)["more"]["rows"]]
    assert levels == ["gaussian:0.1", "gaussian:0.2", "gaussian:0.3", "gaussian:0.5"]
    code, _, err = run_cli("denoise", run, *pngs, "--out", tmp_path / "clean")
    assert code == 0, err
    cleaned = read_image(tmp_path / "clean" / "img0.png")
    assert cleaned.shape == (1, 16, 16)
    code, _, err = run_cli("generate", run, "-n", "2", "--out", tmp_path / "gen.png")
    assert code == 2 and "skip connections" in err and "\n" not in err.strip()


def test_upscaler_doubles_files_and_is_compared_with_bicubic(run_cli, tmp_path, tiny_npz, pngs):
    run = train(run_cli, tmp_path, tiny_npz, "sr", "sr", "--task", "superres", "--scale", "2",
                "--set", "model.width=8")  # fmt: skip
    config = json.loads((run / "config.json").read_text())
    assert config["model"]["scale"] == 2 and config["model"]["image_shape"] == [1, 8, 8]
    code, out, err = run_cli("eval", run, "--json")
    assert code == 0, err
    report = json.loads(out)
    assert set(report["baselines"]) == {"bicubic", "bilinear"}
    kernels = report["more"]["kernels"]  # blind by default: one row per kernel, lanczos unseen
    assert list(kernels) == ["area", "bilinear", "bicubic", "lanczos", "blur"]
    assert [k for k, row in kernels.items() if not row["seen"]] == ["lanczos"]
    small = tmp_path / "small.png"
    write_image(small, shapes_images(1, size=8, seed=6)[0][0])
    code, _, err = run_cli("upscale", run, small, "--out", tmp_path / "big")
    assert code == 0, err
    assert read_image(tmp_path / "big" / "small.png").shape == (1, 16, 16)
    code, _, err = run_cli("upscale", run, pngs[0], "--out", tmp_path / "big2")  # 16x16: too big
    assert code == 2 and "the model takes 8x8" in err
    code, _, err = run_cli("denoise", run, small, "--out", tmp_path / "x")
    assert code == 2 and "trained for the task 'superres', not 'denoise'" in err


def test_generation_perturbation_and_latent_plot(run_cli, tmp_path, tiny_npz, pngs):
    run = train(run_cli, tmp_path, tiny_npz, "ae2", "conv-ae", "--latent-dim", "2", *SMALL_AE)
    code, _, err = run_cli("generate", run, "-n", "6", "--out", tmp_path / "gen.png")
    assert code == 0, err
    grid = read_image(tmp_path / "gen.png")
    assert grid.shape == (1, 2 + 2 * 18, 2 + 3 * 18)  # 6 images of 16x16 in a 3x2 grid, 2px gaps
    again = tmp_path / "gen2.png"
    run_cli("generate", run, "-n", "6", "--out", again)
    assert np.array_equal(read_image(again), grid)  # seeded
    code, _, err = run_cli("perturb", run, pngs[0], "--sigma", "0.5", "-n", "4",
                           "--out", tmp_path / "p.png")  # fmt: skip
    assert code == 0, err
    strip = read_image(tmp_path / "p.png")
    assert strip.shape == (1, 2 + 18, 2 + 6 * 18)  # input, reconstruction, 4 variations
    tiles = [strip[0, 2:18, 2 + 18 * i : 18 + 18 * i].astype(int) for i in range(6)]
    assert any(np.abs(tiles[i] - tiles[1]).sum() > 0 for i in range(2, 6))  # noise changed them
    code, _, err = run_cli("latent-plot", run, "--out", tmp_path / "scatter.png")
    assert code == 0, err
    assert read_image(tmp_path / "scatter.png").shape[0] == 3  # a matplotlib figure


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["train", "conv-ae", "--task", "denoise", "--noise", "gaussian:-1"], "gaussian:-1"),
        (["train", "conv-ae", "--task", "denoise", "--noise", "gaussian:nan"], "gaussian:nan"),
        (["train", "sr", "--task", "superres", "--scale", "3"], "scale must be 2 or 4"),
        (["train", "conv-ae", "--task", "superres"], "use the sr model"),
        (["train", "conv-ae", "--task", "inpaint"], "inpaint"),
    ],
)
def test_bad_task_options(run_cli, tmp_path, tiny_npz, args, fragment):
    code, _, err = run_cli(*args, "--data", tiny_npz, "--out", tmp_path / "r", "--dry-run")
    assert code == 2 and fragment in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "r").exists()


def test_perturb_refuses_bad_sigma_and_generate_wants_png(run_cli, tmp_path, tiny_npz, pngs):
    run = train(run_cli, tmp_path, tiny_npz, "ae", "conv-ae", "--latent-dim", "3", *SMALL_AE)
    code, _, err = run_cli("perturb", run, pngs[0], "--sigma", "-1", "--out", tmp_path / "p.png")
    assert code == 2 and "--sigma must be" in err
    code, _, err = run_cli("generate", run, "--out", tmp_path / "g.jpg")
    assert code == 2 and "must be a .png" in err
    code, _, err = run_cli("generate", run, "-n", "0", "--out", tmp_path / "g.png")
    assert code == 2 and "-n must be at least 1" in err


def test_eval_on_other_data_reports_the_drop(run_cli, tmp_path, tiny_npz):
    run = tmp_path / "ae"
    code, _, err = run_cli("train", "conv-ae", "--data", tiny_npz, "--out", run, "--epochs", "10",
                           "--batch-size", "16", "--no-progress", "--latent-dim", "4",
                           *SMALL_AE)  # fmt: skip
    assert code == 0, err
    rng = np.random.default_rng(0)
    other = tmp_path / "noise.npz"  # same size, nothing like squares and discs
    np.savez(other, x_train=rng.integers(0, 256, (64, 16, 16), dtype=np.uint8),
             x_test=rng.integers(0, 256, (32, 16, 16), dtype=np.uint8))  # fmt: skip
    code, out, err = run_cli("eval", run, "--data", other, "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["own_dataset"].endswith("shapes.npz")
    assert report["own_metrics"]["psnr"] > report["metrics"]["psnr"] + 3  # data specific
    code, out, _ = run_cli("eval", run, "--data", other)
    assert "data specificity: PSNR" in out and "dB drop" in out
    rgb = tmp_path / "rgb.npz"
    np.savez(
        rgb, x_train=np.zeros((8, 16, 16, 3), np.uint8), x_test=np.zeros((4, 16, 16, 3), np.uint8)
    )
    code, _, err = run_cli("eval", run, "--data", rgb)
    assert code == 2 and "(3, 16, 16)" in err and "(1, 16, 16)" in err


def test_grayscale_model_refuses_rgb_files(run_cli, tmp_path, tiny_npz):
    run = train(run_cli, tmp_path, tiny_npz, "ae", "conv-ae", "--latent-dim", "4", *SMALL_AE)
    rgb = tmp_path / "rgb.png"
    write_image(rgb, np.zeros((3, 16, 16), np.uint8))
    code, _, err = run_cli("reconstruct", run, rgb, "--out", tmp_path / "o")
    assert code == 2 and "is RGB but the model takes grayscale" in err
    assert not (tmp_path / "o").exists()
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    code, _, err = run_cli("reconstruct", run, empty, "--out", tmp_path / "o")
    assert code == 2 and "empty.png" in err and not (tmp_path / "o").exists()


@pytest.mark.parametrize("scale", [2, 4])
def test_colour_super_resolution_on_photo_patches(run_cli, tmp_path, scale):
    out = tmp_path / f"sr{scale}"
    code, _, err = run_cli("train", "sr", "--data", "photos", "--task", "superres", "--scale",
                           str(scale), "--limit", "64", "--set", "model.width=8", "--out", out,
                           *FAST)  # fmt: skip
    assert code == 0, err
    config = json.loads((out / "config.json").read_text())
    assert config["model"]["image_shape"] == [3, 32 // scale, 32 // scale]
    code, report, err = run_cli("eval", out, "--json", "--limit", "16")
    assert code == 0, err
    assert set(json.loads(report)["baselines"]) == {"bicubic", "bilinear"}
    code, _, err = run_cli("upscale", out, "--random-inputs", "2", "--out", tmp_path / "noise")
    assert code == 0, err
    assert read_image(tmp_path / "noise" / "noise-1-out.png").shape == (3, 32, 32)
    assert read_image(tmp_path / "noise" / "noise-1-in.png").shape == (3, 32, 32)


def test_random_patches_of_larger_rgb_images(run_cli, tmp_path):
    folder = tmp_path / "pics"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(24):
        write_image(folder / f"{i}.png", rng.integers(0, 256, (3, 40, 48), dtype=np.uint8))
    out = tmp_path / "run"
    # arch default: a PCA at the code's size needs a code (the unet, denoise's default, has none)
    code, _, err = run_cli("train", "conv-ae", "--data", f"folder:{folder}", "--task", "denoise",
                           "--arch", "default", "--set", "task.patch=16", *SMALL_AE, "--out", out,
                           *FAST)  # fmt: skip
    assert code == 0, err
    assert json.loads((out / "config.json").read_text())["model"]["image_shape"] == [3, 16, 16]
    code, report, err = run_cli("eval", out, "--json")
    assert code == 0, err
    assert "PCA(128)" in json.loads(report)["baselines"]  # fitted on 16x16 patches too
    code, _, err = run_cli("train", "conv-ae", "--data", f"folder:{folder}", "--set",
                           "task.patch=64", "--out", tmp_path / "r2", "--dry-run")  # fmt: skip
    assert code == 2 and "smaller than the patch size 64" in err


def test_a_100_megapixel_file_is_refused_before_decoding(run_cli, tmp_path, tiny_npz):
    import struct
    import zlib

    run = train(run_cli, tmp_path, tiny_npz, "ae", "conv-ae", "--latent-dim", "4", *SMALL_AE)
    header = struct.pack(">IIBBBBB", 10_000, 10_000, 8, 0, 0, 0, 0)  # 10000x10000 gray, 8 bit
    ihdr = (
        struct.pack(">I", 13) + b"IHDR" + header + struct.pack(">I", zlib.crc32(b"IHDR" + header))
    )
    huge = tmp_path / "huge.png"
    data = zlib.compress(b"")
    idat = (
        struct.pack(">I", len(data))
        + b"IDAT"
        + data
        + struct.pack(">I", zlib.crc32(b"IDAT" + data))
    )
    huge.write_bytes(b"\x89PNG\r\n\x1a\n" + ihdr + idat)  # no pixels: decoding it would fail
    code, _, err = run_cli("reconstruct", run, huge, "--out", tmp_path / "o", "--resize")
    assert code == 2 and "100000000 pixels, over max_pixels" in err
    assert not (tmp_path / "o").exists()


def test_sample_from_a_vae_and_refuse_a_plain_autoencoder(run_cli, tmp_path, tiny_npz):
    run = train(run_cli, tmp_path, tiny_npz, "vae", "conv-vae", "--latent-dim", "2", *SMALL_AE)
    code, _, err = run_cli("sample", run, "-n", "4", "--out", tmp_path / "s.png")
    assert code == 0, err
    assert read_image(tmp_path / "s.png").shape == (1, 2 + 2 * 18, 2 + 2 * 18)
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert rows[-1]["val_kl"] > 0 and "val_elbo" in rows[-1]
    plain = train(run_cli, tmp_path, tiny_npz, "ae", "conv-ae", "--latent-dim", "2", *SMALL_AE)
    code, _, err = run_cli("sample", plain, "--out", tmp_path / "t.png")
    assert code == 2 and "no prior to sample from" in err
    code, _, err = run_cli("manifold", plain, "--out", tmp_path / "m.png")
    assert code == 2 and "no prior whose quantiles" in err and "not variational" in err


def test_interpolate_and_manifold(run_cli, tmp_path, tiny_npz, pngs):
    run = train(run_cli, tmp_path, tiny_npz, "vae", "conv-vae", "--latent-dim", "3", *SMALL_AE)
    code, _, err = run_cli("interpolate", run, pngs[0], pngs[1], "--steps", "4", "--spherical",
                           "--out", tmp_path / "i.png")  # fmt: skip
    assert code == 0, err
    assert read_image(tmp_path / "i.png").shape == (1, 2 + 18, 2 + 6 * 18)  # a, 4 codes, b
    code, _, err = run_cli("manifold", run, "--size", "3", "--dims", "0,2", "--base", pngs[0],
                           "--out", tmp_path / "m.png")  # fmt: skip
    assert code == 0, err
    assert read_image(tmp_path / "m.png").shape == (1, 2 + 3 * 18, 2 + 3 * 18)
    code, _, err = run_cli("manifold", run, "--dims", "0,3", "--out", tmp_path / "x.png")
    assert code == 2 and "0..2" in err
    big = tmp_path / "big.png"
    write_image(big, np.zeros((1, 20, 20), np.uint8))
    code, _, err = run_cli("interpolate", run, pngs[0], big, "--out", tmp_path / "y.png")
    assert code == 2 and "20x20" in err and not (tmp_path / "y.png").exists()


def test_eval_reports_likelihoods_of_a_vae(run_cli, tmp_path, tiny_npz):
    run = train(run_cli, tmp_path, tiny_npz, "vae", "conv-vae", "--latent-dim", "2", *SMALL_AE)
    code, out, err = run_cli("eval", run, "--nll-samples", "64", "--limit", "16", "--json")
    assert code == 0, err
    likelihood = json.loads(out)["likelihood"]
    assert likelihood["k"] == 64
    assert 0 < likelihood["nll"] <= likelihood["neg_elbo"] + 0.5  # the tighter bound
    code, out, _ = run_cli("eval", run, "--nll-samples", "8", "--limit", "4")
    assert "NLL" in out and "dynamically binarized" in out and "8 importance samples" in out


def test_conditional_vae_samples_a_chosen_class(run_cli, tmp_path, tiny_npz):
    run = train(run_cli, tmp_path, tiny_npz, "cvae", "cvae", "--latent-dim", "2", *SMALL_AE)
    config = json.loads((run / "config.json").read_text())
    assert config["model"]["num_classes"] == 2  # from the data's labels
    code, _, err = run_cli("sample", run, "-n", "3", "--label", "1", "--out", tmp_path / "s.png")
    assert code == 0, err
    code, out, err = run_cli("eval", run, "--json", "--nll-samples", "4")
    assert code == 0, err
    assert json.loads(out)["likelihood"]["nll"] > 0
    code, _, err = run_cli("embed", run, "--out", tmp_path / "e.npz")
    assert code == 0, err
    code, _, err = run_cli("sample", run, "--label", "5", "--out", tmp_path / "t.png")
    assert code == 2 and "label 5 is outside the trained classes 0..1" in err
    plain = train(run_cli, tmp_path, tiny_npz, "vae", "conv-vae", "--latent-dim", "2", *SMALL_AE)
    code, _, err = run_cli("sample", plain, "--label", "1", "--out", tmp_path / "u.png")
    assert code == 2 and "not conditional" in err


def test_file_commands_take_the_class_of_a_conditional_model(run_cli, tmp_path, tiny_npz, pngs):
    run = train(run_cli, tmp_path, tiny_npz, "cvae", "cvae", "--latent-dim", "2", *SMALL_AE)
    a, b = pngs[0], pngs[1]
    commands = [
        ("reconstruct", run, a, "--out", tmp_path / "rec"),
        ("interpolate", run, a, b, "--steps", "3", "--out", tmp_path / "i.png"),
        ("perturb", run, a, "-n", "2", "--out", tmp_path / "p.png"),
        ("manifold", run, "--size", "2", "--out", tmp_path / "m.png"),
        ("generate", run, "-n", "2", "--out", tmp_path / "g.png"),
    ]
    for command in commands:
        code, _, err = run_cli(*command)
        assert code == 2 and "give --label 0..1" in err, command
        assert not command[command.index("--out") + 1].exists()
        code, _, err = run_cli(*command, "--label", "1")
        assert code == 0, (command, err)
    code, _, err = run_cli(*commands[0], "--label", "2")
    assert code == 2 and "--label 2 is outside the trained classes 0..1" in err
    plain = train(run_cli, tmp_path, tiny_npz, "plain", "conv-ae", "--latent-dim", "2", *SMALL_AE)
    code, _, err = run_cli("reconstruct", plain, a, "--out", tmp_path / "x", "--label", "0")
    assert code == 2 and "not conditional" in err and not (tmp_path / "x").exists()


def test_adversarial_autoencoder_trains_samples_and_shows_its_discriminator(
    run_cli, tmp_path, tiny_npz
):
    out = tmp_path / "aae"
    code, _, err = run_cli("train", "aae", "--data", tiny_npz, "--out", out, "--latent-dim", "2",
                           "--epochs", "2", "--batch-size", "32", *SMALL_AE)  # fmt: skip
    assert code == 0, err
    assert "disc_acc" in err  # the per-epoch line shows the discriminator's accuracy
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert 0 <= rows[-1]["train_disc_acc"] <= 1 and rows[-1]["train_gen"] > 0
    code, _, err = run_cli("sample", out, "-n", "4", "--out", tmp_path / "s.png")
    assert code == 0, err
    code, _, err = run_cli("manifold", out, "--size", "3", "--out", tmp_path / "m.png")
    assert code == 0, err
    code, _, err = run_cli("eval", out, "--nll-samples", "4")
    assert code == 2 and "posterior" in err


def test_cvae_needs_labelled_data(run_cli, tmp_path):
    unlabelled = tmp_path / "u.npz"
    np.savez(unlabelled, x=np.zeros((40, 16, 16), np.uint8))
    code, _, err = run_cli("train", "cvae", "--data", unlabelled, "--out", tmp_path / "r",
                           "--dry-run")  # fmt: skip
    assert code == 2 and "conditioned on labels" in err
