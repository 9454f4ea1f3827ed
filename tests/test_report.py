"""`aekit report` and the demo on tiny data: sections, the numbers `aekit eval` prints, embedded
PNGs, no external resources, refusals that write nothing; and the demo's index of four runs."""

from __future__ import annotations

import base64
import io
import json
import re
from dataclasses import replace
from pathlib import Path

import pytest
from PIL import Image

from aekit.demo import DEMO_RUNS, run_demo
from aekit.evaluation.evaluate import EvalReport
from aekit.reports.html import metrics_table
from tests.conftest import shapes_npz

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
TINY = {  # small networks, one short epoch: the plumbing is under test, not the quality
    "conv-ae": {"model.channels": [8, 16], "model.latent_dim": 4},
    "denoiser": {"model.channels": [8, 16]},  # the unet: no code, so no latent_dim
    "superres-x2": {"model.width": 8},
    "vae-2d": {"model.hidden": [32]},
}
COMMON = {"train.epochs": 2, "train.batch_size": 128, "data.limit": None}


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    """The demo's four runs, reports and index, trained on 320 tiny images (about 10 s)."""
    folder = tmp_path_factory.mktemp("demo")
    data = shapes_npz(folder / "shapes.npz")
    runs = [replace(r, settings={**r.settings, **COMMON, **TINY[r.name]}) for r in DEMO_RUNS]
    index = run_demo(folder / "demo", data=str(data), runs=runs, progress=False)
    return index.parent


def test_each_demo_command_repeats_its_run(tmp_path):
    """The command the index prints for a run, read as `aekit train` reads it (task presets
    included: the denoise task picks its own network), gives the run's own settings."""
    from aekit.cli.train import build_run_config
    from aekit.config import to_dict
    from aekit.demo import command_line, demo_config

    for run in DEMO_RUNS:
        words = command_line(run, "fashion-mnist", tmp_path).split()
        sets = [words[i + 1] for i, word in enumerate(words) if word == "--set"]
        cli = to_dict(build_run_config(run.model, None, {"data.name": "fashion-mnist"}, sets))
        ours = to_dict(demo_config(run, "fashion-mnist", None))
        for part in ("model", "task", "train"):
            assert cli[part] == ours[part], (run.name, part)


def embedded_pngs(html: str) -> list[bytes]:
    return [base64.b64decode(m) for m in re.findall(r'src="data:image/png;base64,([^"]+)"', html)]


def test_demo_index_links_the_four_reports_with_their_headlines(demo):
    index = (demo / "index.html").read_text()
    links = re.findall(r'href="([^"]+)"', index)
    names = [r.name for r in DEMO_RUNS]
    assert {f"{n}/report.html" for n in names} <= set(links)
    for name in names:
        assert (demo / name / "report.html").is_file()
        assert (demo / name / "model.safetensors").is_file()
    summary = json.loads((demo / "summary.json").read_text())
    assert [row["name"] for row in summary["runs"]] == names
    metrics = [row["headline"]["metric"] for row in summary["runs"]]
    assert metrics == ["mse", "psnr", "psnr", "mse"]
    baselines = [row["headline"]["baseline"] for row in summary["runs"]]
    assert baselines[0] == "PCA(4)" and baselines[2] == "bicubic" and baselines[3] == "PCA(2)"
    assert not baselines[1].startswith("PCA")  # a denoiser is judged against the best filter
    for row in summary["runs"]:
        h = row["headline"]
        shown = f"{h['value']:.2f} dB" if h["metric"] == "psnr" else f"{h['value']:.4f}"
        assert shown in index
    assert "aekit train vae --data" in index  # how to repeat each run by hand
    assert "http://" not in index and "https://" not in index


SECTIONS = {
    "conv-ae": ["Latent space", "Interpolation"],
    # the denoise task's unet has skip connections and no code to show; its table per level
    "denoiser": ["denoise (gaussian:0.3)", "denoising at fixed levels"],
    "superres-x2": ["super-resolution per downscaling kernel", "lanczos *"],
    "vae-2d": ["Latent space", "Samples from the prior", "Latent manifold", "Interpolation"],
}


@pytest.mark.parametrize("name", list(SECTIONS))
def test_report_sections_numbers_and_images(demo, name, run_cli):
    run = demo / name
    html = (run / "report.html").read_text()
    for section in ["Run", "Data", "Training", "Loss curves", "Test metrics beside the baselines",
                    "Inputs, outputs and targets", *SECTIONS[name]]:  # fmt: skip
        assert section in html, section
    if name in ("superres-x2", "denoiser"):
        assert "Latent space" not in html and "Interpolation" not in html
    assert "288 / 32 / 64" in html  # train / validation / test images
    code, out, err = run_cli("eval", run, "--json", "--limit", "2000")
    assert code == 0, err
    evaluated = json.loads(out)
    assert metrics_table(EvalReport(**evaluated)) in html  # the very numbers eval prints
    pngs = embedded_pngs(html)
    files = sorted((run / "report").glob("*.png"))
    assert len(pngs) == len(files) >= 2
    assert {f.read_bytes() for f in files} == set(pngs)  # the files are the embedded figures
    for png in pngs:
        assert png.startswith(PNG_SIGNATURE)
        Image.open(io.BytesIO(png)).verify()
    assert "http://" not in html and "https://" not in html
    sources = re.findall(r'src="([^"]*)"', html)
    assert sources and all(s.startswith("data:image/png;base64,") for s in sources)
    assert "<script" not in html and "<link" not in html


def test_report_of_a_conditional_vae_samples_each_class(run_cli, tmp_path, tiny_npz):
    run = tmp_path / "cvae"
    code, _, err = run_cli("train", "cvae", "--data", tiny_npz, "--out", run, "--latent-dim", "2",
                           "--set", "model.channels=[8, 16]", "--epochs", "1", "--batch-size",
                           "128", "--no-progress")  # fmt: skip
    assert code == 0, err
    out = tmp_path / "pages" / "cvae.html"
    code, stdout, err = run_cli("report", run, "--out", out, "--limit", "16", "--nll-samples", "4",
                                "--data", tiny_npz)  # fmt: skip
    assert code == 0, err
    assert f"wrote {out}" in stdout and "PCA(2)" in stdout
    html = out.read_text()
    assert "One row per class" in html
    assert "importance samples: NLL" in html
    assert "16 test images" in html
    assert (tmp_path / "pages" / "cvae" / "samples.png").is_file()
    assert not (run / "report.html").exists()  # --out was elsewhere


@pytest.mark.parametrize("what", ["missing", "empty", "no-weights", "bad-out"])
def test_report_refuses_bad_input_in_one_line_and_writes_nothing(run_cli, tmp_path, tiny_npz, what):
    run = tmp_path / "run"
    args: list = []
    if what == "empty":
        run.mkdir()
    elif what == "no-weights":
        code, _, err = run_cli("train", "conv-ae", "--data", tiny_npz, "--out", run,
                               "--epochs", "1", "--no-progress")  # fmt: skip
        assert code == 0, err
        (run / "model.safetensors").unlink()
    elif what == "bad-out":
        run.mkdir()
        args = ["--out", tmp_path / "report.txt"]
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    code, out, err = run_cli("report", run, *args)
    assert code == 2 and err.startswith("aekit: error: ") and len(err.strip().splitlines()) == 1
    expected = {
        "missing": "not an aekit run directory",
        "empty": "not an aekit run directory",
        "no-weights": "has no model.safetensors",
        "bad-out": "must be an .html file",
    }[what]
    assert expected in err
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before


def test_demo_refuses_an_out_that_already_holds_its_runs(tmp_path, run_cli):
    import torch

    threads = torch.get_num_threads()
    (tmp_path / "demo" / "vae-2d").mkdir(parents=True)
    code, _, err = run_cli("demo", "--out", tmp_path / "demo", "--no-progress", "--threads", "1")
    assert code == 2 and "already holds demo runs (vae-2d)" in err
    assert list((tmp_path / "demo").iterdir()) == [tmp_path / "demo" / "vae-2d"]
    assert torch.get_num_threads() == threads  # the process's setting is given back
    code, _, err = run_cli("demo", "--out", tmp_path / "demo", "--threads", "0")
    assert code == 2 and "--threads must be at least 1" in err


def test_demo_uses_the_cores_other_jobs_leave_free(monkeypatch):
    import torch

    from aekit.runtime.precision import choose_threads

    cores = torch.get_num_threads()
    monkeypatch.setattr("os.getloadavg", lambda: (0.1, 0.1, 0.1))
    assert choose_threads() == (cores, f"load average 0.1 on {cores} cores")
    monkeypatch.setattr("os.getloadavg", lambda: (cores + 3.0, 1.0, 1.0))
    assert choose_threads()[0] == 1
    assert choose_threads(3) == (3, "as asked")


@pytest.mark.slow
def test_demo_on_fashion_mnist_beats_every_baseline(tmp_path):
    index = run_demo(tmp_path / "demo", progress=False)
    summary = json.loads((index.parent / "summary.json").read_text())
    assert [row["headline"]["beats"] for row in summary["runs"]] == [True] * 4, summary
