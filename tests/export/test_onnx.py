"""`aekit export --format onnx`: every family's files match torch within 1e-4 in ONNX Runtime,
at any batch size, each one file, usable with ONNX Runtime, numpy and preprocessing.json alone.

Tiny runs of every family (1 epoch on 64 shapes images; a melody-vae on synthetic tunes) are
trained and exported once per module; the tests read those exports. Exporting is the slow part
(the torch exporter takes 1-3 s a file).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("onnxruntime", reason="aekit export needs the onnx extra")
pytest.importorskip("onnxscript", reason="aekit export needs the onnx extra")
import onnx  # noqa: E402
import onnxruntime as ort  # noqa: E402

from aekit.export import export_run  # noqa: E402
from aekit.export.graphs import graphs_for  # noqa: E402
from aekit.training.checkpoint import load_run  # noqa: E402
from tests.conftest import shapes_images  # noqa: E402

README = Path(__file__).resolve().parents[2] / "README.md"

# run name -> (model, task): every image family, a denoiser (a VAE's: its whole network decodes
# the posterior mean) and an upscaler; the melody run is added by the fixture.
IMAGE_RUNS = {
    "ae": ("ae", "identity"),
    "conv-ae": ("conv-ae", "identity"),
    "vae": ("vae", "identity"),
    "conv-vae": ("conv-vae", "identity"),
    "cvae": ("cvae", "identity"),
    "aae": ("aae", "identity"),
    "denoise": ("conv-vae", "denoise"),
    "sr": ("sr", "superres"),
}
FILES = {  # what each run exports besides preprocessing.json
    **{name: ["decoder.onnx", "encoder.onnx"] for name in IMAGE_RUNS},
    "denoise": ["decoder.onnx", "encoder.onnx", "model.onnx"],
    "sr": ["model.onnx"],
    "melody": ["decoder.onnx", "encoder.onnx"],
}


def shapes_set(path: Path, n_train: int = 64, n_test: int = 16) -> Path:
    x, y = shapes_images(n_train, seed=1)
    xt, yt = shapes_images(n_test, seed=2)
    np.savez(path, x_train=x[:, 0], y_train=y, x_test=xt[:, 0], y_test=yt)
    return path


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    """name -> {"run", "out", "result", "lines"} for every run, trained and exported once."""
    from aekit.cli import build_run_config
    from aekit.models import spec_of
    from aekit.runs import train_run
    from tests.melody.synth import train_melody_run

    root = tmp_path_factory.mktemp("export")
    npz = shapes_set(root / "shapes.npz")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    runs = {}
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("XDG_CACHE_HOME", str(root / "cache"))
            patch.delenv("AEKIT_DATA", raising=False)
            for name, (model, task) in IMAGE_RUNS.items():
                settings = {
                    "data.name": str(npz), "train.epochs": 1, "train.batch_size": 32,
                    "train.precision": "fp32", "task.name": task,
                    **{f"model.{k}": v for k, v in spec_of(model).tiny.items()},
                }  # fmt: skip
                config = build_run_config(model, None, settings, [])
                train_run(config, root / name, progress=False, device="cpu")
                runs[name] = root / name
            runs["melody"] = busy(train_melody_run(root / "melody"))
            done = {}
            for name, run in runs.items():
                lines: list[str] = []
                out = root / "out" / name
                result = export_run(run, out, command="test", say=lines.append)
                done[name] = {"run": run, "out": out, "result": result, "lines": lines}
    finally:
        torch.set_num_threads(threads)
    return done


def busy(run: Path) -> Path:
    """The melody run with its decoder's and head's weights scaled up: an almost untrained
    decoder plays one note whatever the code, which would let a broken step loop pass; this
    one plays a different busy melody for every code and every previous token."""
    from aekit.training.checkpoint import WEIGHTS, save_tensors_atomic

    model = load_run(run).model
    with torch.no_grad():
        for name, weight in model.named_parameters():
            if name.startswith(("out.", "init_state.", "decoder.", "head.")):
                weight.mul_(6)
    save_tensors_atomic(run / WEIGHTS, model.state_dict())
    return run


def card_of(entry: dict) -> dict:
    return json.loads((entry["out"] / "preprocessing.json").read_text())


ALL = [*IMAGE_RUNS, "melody"]


@pytest.mark.parametrize("name", ALL)
def test_every_family_matches_torch_within_tolerance_and_says_so(exported, name):
    entry = exported[name]
    result, card = entry["result"], card_of(entry)
    assert sorted(p.name for p in entry["out"].iterdir()) == [*FILES[name], "preprocessing.json"]
    assert sorted(result.differences) == FILES[name]
    assert all(0 <= d <= 1e-4 for d in result.differences.values()), result.differences
    assert card["parity"]["max_abs_difference"] == result.differences
    assert card["parity"]["tolerance"] == 1e-4
    # one printed line per file, naming its difference and the data it was checked on
    for line, (file, diff) in zip(entry["lines"], result.differences.items(), strict=True):
        assert line == f"{file}: max |torch - onnxruntime| = {diff:.2e} on {result.checked_on}"
    noun = "windows" if name == "melody" else "images"
    assert re.fullmatch(rf"8 test {noun} of .+", result.checked_on), result.checked_on


@pytest.mark.parametrize("name", ALL)
def test_each_file_is_one_file_with_its_weights_inside(exported, name):
    out = exported[name]["out"]
    for file in FILES[name]:
        model = onnx.load(str(out / file), load_external_data=False)
        onnx.checker.check_model(model)
        assert model.graph.initializer, file  # the weights are in the graph ...
        external = [t.name for t in model.graph.initializer if t.data_location == 1]
        assert not external, f"{file} points at external data {external}"  # ... not beside it
    assert not list(out.glob("*.data")) and not list(out.glob(".*"))


def random_feed(ports: list[dict], batch: int, card: dict, rng: np.random.Generator) -> dict:
    """Inputs in range for each named port at batch size `batch`."""
    feed = {}
    for port in ports:
        shape = [batch if s == "batch" else s for s in port["shape"]]
        if port["dtype"] == "int64":
            top = {
                "label": card.get("labels", {}).get("num_classes"),
                "tokens": card.get("vocabulary", {}).get("size"),
                "token": card.get("vocabulary", {}).get("size", 0) + 1,  # the start token too
            }[port["name"]]
            feed[port["name"]] = rng.integers(0, top, shape).astype(np.int64)
        elif port["name"] == "image":
            feed[port["name"]] = rng.random(shape, dtype=np.float32)
        else:
            feed[port["name"]] = rng.standard_normal(shape).astype(np.float32)
    return feed


@pytest.mark.parametrize("name", ALL)
def test_any_batch_size_runs_and_matches_torch(exported, name):
    """Batch 1 and 5 through every file: the batch axis is dynamic, and ONNX Runtime agrees
    with the torch model on inputs the export never saw."""
    entry = exported[name]
    card = card_of(entry)
    run = load_run(entry["run"])
    graphs = {g.file: g for g in graphs_for(run.model, run.config.modality,
                                            run.config.task.get("name", "identity"))}  # fmt: skip
    rng = np.random.default_rng(0)
    for file, spec in card["files"].items():
        session = ort.InferenceSession(str(entry["out"] / file))
        for batch in (1, 5):
            feed = random_feed(spec["inputs"], batch, card, rng)
            got = session.run(None, feed)
            with torch.no_grad():
                want = graphs[file].module(*(torch.from_numpy(v) for v in feed.values()))
            for port, have, expected in zip(spec["outputs"], got, want, strict=True):
                shape = [batch if s == "batch" else s for s in port["shape"]]
                assert list(have.shape) == shape, (file, port["name"], batch)
                assert np.abs(have - expected.numpy()).max() <= 1e-4, (file, port["name"])


def test_the_card_says_how_images_go_in_and_what_each_task_expects(exported):
    card = card_of(exported["conv-ae"])
    assert card["input"]["shape"] == [1, 16, 16] and card["input"]["divide_by"] == 255.0
    assert card["input"]["layout"] == "NCHW" and card["output"]["range"] == [0.0, 1.0]
    assert card["code"] == {"shape": [4], "size": 4, "variational": False, "prior": None}
    assert card["made_by"]["command"] == "test" and card["run"]["model"] == "conv-ae"
    vae = card_of(exported["conv-vae"])
    assert [p["name"] for p in vae["files"]["encoder.onnx"]["outputs"]] == ["mean", "logvar"]
    assert vae["code"]["prior"] == "N(0, I)" and vae["code"]["variational"]
    cvae = card_of(exported["cvae"])
    assert cvae["labels"]["num_classes"] == 2 and cvae["labels"]["dtype"] == "int64"
    assert [p["name"] for p in cvae["files"]["decoder.onnx"]["inputs"]] == ["code", "label"]
    denoise = card_of(exported["denoise"])
    noise = denoise["run"]["task"]["noise"]  # the default since issue 14: blind
    assert noise == "gaussian:0.05-0.5" and denoise["run"]["task"]["name"] == "denoise"
    assert noise in denoise["input"]["what"]
    sr = card_of(exported["sr"])
    assert sr["input"]["shape"] == [1, 8, 8] and sr["output"]["shape"] == [1, 16, 16]
    assert "x2" in sr["input"]["what"] and "code" not in sr


def readme_snippet() -> str:
    """The Python the README's export section feeds to `python - <<'EOF'`."""
    text = README.read_text()
    section = text[text.index("## Export to ONNX") :]
    return section[section.index("python - <<'EOF'\n") + len("python - <<'EOF'\n") :].split(
        "\nEOF\n"
    )[0]


def test_the_readme_snippet_reconstructs_with_onnxruntime_and_numpy_alone(exported, tmp_path):
    """The README's snippet, run as written in a fresh interpreter, loads neither torch nor
    aekit, and writes what aekit's own reconstruction gives."""
    from aekit.inference import reconstruct

    entry = exported["conv-ae"]
    (tmp_path / "exported").symlink_to(entry["out"])
    images = shapes_images(6, seed=9)[0]
    np.save(tmp_path / "images.npy", images)
    probe = "\nimport sys\nprint('LOADED', sorted({m.split('.')[0] for m in sys.modules} & {'torch', 'aekit'}))\n"  # noqa: E501
    done = subprocess.run(
        [sys.executable, "-c", readme_snippet() + probe], cwd=tmp_path, capture_output=True,
        text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "LOADED []" in done.stdout and "mean absolute error" in done.stdout
    theirs = np.load(tmp_path / "recon.npy")
    ours = np.rint(reconstruct(load_run(entry["run"]).model, images) * 255).astype(np.uint8)
    assert theirs.dtype == np.uint8 and theirs.shape == ours.shape
    assert np.abs(theirs.astype(int) - ours).max() <= 1  # a rounding boundary at most


def test_a_melody_decodes_greedily_with_onnxruntime_as_aekit_does(exported):
    """The loop preprocessing.json describes, in numpy around the step file, plays the melody
    aekit reconstructs (greedy from the posterior mean) token for token."""
    from aekit.modalities.melody.inference import reconstruct
    from aekit.runs import open_run

    entry = exported["melody"]
    card = card_of(entry)
    windows = np.asarray(open_run(entry["run"]).dataset.test.rows[:6])
    encoder = ort.InferenceSession(str(entry["out"] / "encoder.onnx"))
    decoder = ort.InferenceSession(str(entry["out"] / "decoder.onnx"))
    code = encoder.run(None, {"tokens": windows.astype(np.int64)})[0]
    state = card["files"]["decoder.onnx"]["inputs"][2]["shape"]
    h = c = np.zeros([len(code) if s == "batch" else s for s in state], np.float32)
    token = np.full((len(code), 1), card["vocabulary"]["start_token"], np.int64)
    played = []
    for _ in range(card["decoding"]["steps"]):
        logits, h, c = decoder.run(None, {"code": code, "token": token, "h": h, "c": c})
        token = logits.argmax(-1)[:, None]
        played.append(token[:, 0])
    ours = reconstruct(load_run(entry["run"]).model, windows)
    assert np.array_equal(np.stack(played, axis=1), ours)
    assert len(set(map(tuple, ours))) == len(ours)  # every window plays its own melody
    assert min(len(set(row)) for row in ours) > 3  # of several notes
    vocab = card["vocabulary"]
    assert vocab["size"] == 90 and vocab["start_token"] == 90
    assert len(vocab["tokens"]) == 90 and vocab["tokens"][0].startswith("hold")
    assert vocab["tokens"][41] == "note-on MIDI 60 (C4)"


# -- the command line ----------------------------------------------------------------------------


def test_cli_exports_prints_each_difference_and_replaces_only_with_overwrite(
    exported, tmp_path, run_cli
):
    run = exported["sr"]["run"]
    out = tmp_path / "exported"
    out.mkdir()
    (out / "old.txt").write_text("keep me")
    code, _, err = run_cli("export", run, "--format", "onnx", "--out", out)
    assert code == 2 and err.startswith("aekit: error: ") and err.count("\n") == 1
    assert "already holds files" in err and (out / "old.txt").read_text() == "keep me"
    code, stdout, err = run_cli("export", run, "--out", out, "--overwrite")
    assert code == 0, err
    lines = stdout.splitlines()
    assert re.fullmatch(r"model\.onnx: max \|torch - onnxruntime\| = \S+ on 8 test images of .+",
                        lines[0])  # fmt: skip
    assert lines[-1] == f"wrote model.onnx, preprocessing.json to {out}"
    assert sorted(p.name for p in out.iterdir()) == ["model.onnx", "preprocessing.json"]
    card = json.loads((out / "preprocessing.json").read_text())
    assert card["made_by"]["command"] == f"aekit export {run} --out {out} --overwrite"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_parity_failure_is_one_line_and_leaves_nothing(exported, tmp_path, run_cli, monkeypatch):
    import aekit.export.exporter as exporter

    monkeypatch.setattr(exporter, "TOLERANCE", -1.0)  # any difference, even 0, is too much
    out = tmp_path / "exported"
    code, stdout, err = run_cli("export", exported["sr"]["run"], "--out", out)
    assert code == 2 and err.count("\n") == 1
    assert err.startswith("aekit: error: model.onnx differs from the torch model by up to ")
    assert err.endswith("nothing was written\n") and "model.onnx: max" in stdout
    assert list(tmp_path.iterdir()) == []  # no --out, no hidden temporary directory


def test_without_its_data_the_check_runs_on_random_inputs_and_says_so(exported, tmp_path):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(exported["sr"]["run"], run)
    config = json.loads((run / "config.json").read_text())
    config["data"]["name"] = str(tmp_path / "gone.npz")
    (run / "config.json").write_text(json.dumps(config))
    result = export_run(run, tmp_path / "out")
    assert result.checked_on.startswith("8 random inputs in the model's range (")
    assert "gone.npz" in result.checked_on and result.differences["model.onnx"] <= 1e-4


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--format", "tflite"], "unknown --format 'tflite'; aekit exports onnx"),
        (["--data", "no-such-set"], "no-such-set"),
    ],
)
def test_bad_arguments_are_one_line(exported, tmp_path, run_cli, args, message):
    code, _, err = run_cli("export", exported["sr"]["run"], "--out", tmp_path / "o", *args)
    assert code == 2 and err.startswith("aekit: error: ") and err.count("\n") == 1, err
    assert message in err and not (tmp_path / "o").exists()


def test_a_directory_that_is_no_run_is_one_line(tmp_path, run_cli):
    code, _, err = run_cli("export", tmp_path, "--out", tmp_path / "o")
    assert code == 2 and err == (
        f"aekit: error: {str(tmp_path)!r} is not an aekit run directory (no config.json)\n"
    )


@pytest.mark.parametrize("module", ["onnx", "onnxscript", "onnxruntime"])
def test_without_the_onnx_extra_it_is_one_line_naming_it(module, tmp_path, run_cli, monkeypatch):
    monkeypatch.setitem(sys.modules, module, None)  # as if it were not installed
    code, out, err = run_cli("export", tmp_path / "no-run-needed", "--out", tmp_path / "o")
    assert (code, out) == (2, "")
    assert err == (
        "aekit: error: aekit export --format onnx needs the onnx extra: pip install 'aekit[onnx]'\n"
    )
