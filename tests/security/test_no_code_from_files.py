"""No code from files: every file aekit reads is data, and a file crafted to run code never does.

The crafted files carry a pickle whose ``__reduce__`` runs ``touch MARKER`` when unpickled, in
every container pickles come in: a bare pickle (binary, and protocol 0, which is ASCII and so
also valid UTF-8), a ``torch.save`` file (.pt, zip and legacy formats), and .npy/.npz files with
object arrays. `test_the_payload_is_live` shows each one does create the marker when loaded the
unsafe way, so the marker's absence after aekit reads them means aekit never unpickled them.

Each is put in every place aekit reads a file from -- a run's model.safetensors, config.json,
metrics.jsonl and checkpoints (newest and previous), --config, --data (a file, an npz:, a folder
of "images"), an image to reconstruct, and the dataset folders of the built-in sets -- and every
entry point must refuse it with one line (exit status 2 from the CLI) and no marker.
"""

from __future__ import annotations

import ast
import io
import json
import os
import pickle
import shlex
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from aekit.config import RunConfig
from aekit.errors import AekitError
from aekit.modalities.images.data import load_dataset
from aekit.modalities.images.tasks import TaskConfig
from aekit.models import build_model
from aekit.training import checkpoint as ckpt
from aekit.training.config import TrainConfig

SRC = Path(__file__).resolve().parents[2] / "src" / "aekit"


class Payload:
    """Unpickling this runs a shell command that creates `marker`."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {shlex.quote(str(self.marker))}",))


def crafted_files(marker: Path) -> dict[str, bytes]:
    """name -> bytes of a file that runs the payload if anything unpickles it."""
    payload = Payload(marker)
    files = {
        "pickle": pickle.dumps({"weight": payload}, protocol=pickle.HIGHEST_PROTOCOL),
        "pickle-protocol-0": pickle.dumps(payload, protocol=0),  # ASCII: decodes as UTF-8
    }
    buffer = io.BytesIO()
    torch.save({"state_dict": payload}, buffer)
    files["torch-save.pt"] = buffer.getvalue()
    buffer = io.BytesIO()
    torch.save({"state_dict": payload}, buffer, _use_new_zipfile_serialization=False)
    files["torch-save-legacy.pt"] = buffer.getvalue()
    buffer = io.BytesIO()
    np.save(buffer, np.array([payload, 1], dtype=object), allow_pickle=True)
    files["object.npy"] = buffer.getvalue()
    buffer = io.BytesIO()
    np.savez(buffer, x_train=np.array([payload], dtype=object), y_train=np.zeros(1))
    files["object.npz"] = buffer.getvalue()
    return files


KINDS = ["pickle", "pickle-protocol-0", "torch-save.pt", "torch-save-legacy.pt", "object.npy",
         "object.npz"]  # fmt: skip


@pytest.fixture
def marker(tmp_path: Path) -> Path:
    return tmp_path / "PAYLOAD-RAN"


@pytest.fixture
def crafted(marker: Path) -> dict[str, bytes]:
    return crafted_files(marker)


def refused_in_one_line(call, marker: Path) -> str:
    with pytest.raises(AekitError) as info:
        call()
    assert "\n" not in str(info.value), str(info.value)
    assert not marker.exists(), "the crafted file's payload ran"
    return str(info.value)


def cli_refuses(run_cli, marker: Path, *args) -> str:
    code, out, err = run_cli(*args)
    assert not marker.exists(), "the crafted file's payload ran"
    assert code == 2, (code, out, err)
    lines = err.strip().splitlines()
    assert lines[-1].startswith("aekit: error: ") and "Traceback" not in err, err
    return lines[-1]


# --------------------------------------------------------------------------------- the payload


@pytest.mark.parametrize("kind", KINDS)
def test_the_payload_is_live(kind: str, crafted: dict[str, bytes], marker: Path, tmp_path) -> None:
    """The control: loaded the unsafe way, each crafted file does run its payload."""
    path = tmp_path / kind
    path.write_bytes(crafted[kind])
    if kind.endswith(".pt"):
        torch.load(path, weights_only=False)
    elif kind.endswith(".npy"):
        np.load(path, allow_pickle=True)
    elif kind.endswith(".npz"):
        np.load(path, allow_pickle=True)["x_train"]
    else:
        pickle.loads(crafted[kind])
    assert marker.exists()


# ------------------------------------------------------------------------------- a run directory


@pytest.fixture(scope="module")
def template_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real one-epoch run of a small conv-ae on a .npz of 16x16 shapes (made once, copied)."""
    from aekit.modalities.images.data.splits import ImageSet
    from aekit.training.trainer import Trainer
    from tests.conftest import shapes_images

    root = tmp_path_factory.mktemp("template")
    images, labels = shapes_images(48, seed=1)
    np.savez(root / "shapes.npz", x_train=images[:, 0], y_train=labels)
    run = root / "run"
    model_config = {"image_shape": [1, 16, 16], "channels": [4], "latent_dim": 2}
    train = TrainConfig(epochs=1, batch_size=8, precision="fp32", channels_last=False)
    config = RunConfig(model_name="conv-ae", model=model_config, train=train, task=TaskConfig())
    config.data.name = str(root / "shapes.npz")
    torch.manual_seed(0)
    model = build_model("conv-ae", model_config)
    trainer = Trainer(model, train, out_dir=run, progress=False, run_config=config)
    trainer.fit(ImageSet(images[:16], None), None)
    return run


@pytest.fixture
def run_dir(template_run: Path, tmp_path: Path) -> Path:
    run = tmp_path / "run"
    shutil.copytree(template_run, run)
    return run


@pytest.mark.parametrize("kind", KINDS)
def test_crafted_weights_are_refused(kind, crafted, marker, run_dir, run_cli) -> None:
    (run_dir / ckpt.WEIGHTS).write_bytes(crafted[kind])
    message = refused_in_one_line(lambda: ckpt.load_run(run_dir), marker)
    assert "is not a readable safetensors file" in message
    cli_refuses(run_cli, marker, "eval", run_dir)
    image = run_dir.parent / "x.png"
    from aekit.modalities.images.data import write_image

    write_image(image, np.zeros((1, 16, 16), np.uint8))
    cli_refuses(run_cli, marker, "reconstruct", run_dir, image, "--out", run_dir.parent / "o")


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("which", [ckpt.CHECKPOINT, "both"])
def test_crafted_checkpoints_are_refused_on_resume(
    kind, which, crafted, marker, run_dir, run_cli
) -> None:
    (run_dir / ckpt.CHECKPOINT).write_bytes(crafted[kind])
    previous = run_dir / ckpt.PREVIOUS
    if which == "both":
        previous.write_bytes(crafted[kind])
    else:
        previous.unlink(missing_ok=True)
    line = cli_refuses(run_cli, marker, "train", "--resume", "--out", run_dir, "--no-progress")
    assert "safetensors" in line


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("name", [ckpt.CONFIG, ckpt.METRICS])
def test_crafted_run_json_is_refused(kind, name, crafted, marker, run_dir, run_cli) -> None:
    (run_dir / name).write_bytes(crafted[kind])
    refused_in_one_line(lambda: ckpt.load_run(run_dir), marker)
    cli_refuses(run_cli, marker, "eval", run_dir)


# ------------------------------------------------------------------------ --config and --data


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("suffix", [".json", ".toml", ".pt", ""])
def test_crafted_config_files_are_refused(kind, suffix, crafted, marker, tmp_path, run_cli):
    path = tmp_path / f"settings{suffix}"
    path.write_bytes(crafted[kind])
    cli_refuses(run_cli, marker, "train", "conv-ae", "--config", path, "--dry-run")


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("name", ["data.npz", "data.npy", "npz:data.pt", "data.pkl"])
def test_crafted_data_files_are_refused(kind, name, crafted, marker, tmp_path, run_cli):
    path = tmp_path / name.removeprefix("npz:")
    path.write_bytes(crafted[kind])
    spec = f"npz:{path}" if name.startswith("npz:") else str(path)
    cli_refuses(run_cli, marker, "train", "conv-ae", "--data", spec, "--dry-run")


@pytest.mark.parametrize("kind", KINDS)
def test_crafted_images_are_refused(kind, crafted, marker, run_dir, tmp_path, run_cli):
    folder = tmp_path / "images"
    folder.mkdir()
    (folder / "a.png").write_bytes(crafted[kind])
    (folder / "b.jpg").write_bytes(crafted[kind])
    cli_refuses(run_cli, marker, "train", "conv-ae", "--data", f"folder:{folder}", "--dry-run")
    line = cli_refuses(
        run_cli, marker, "reconstruct", run_dir, folder / "a.png", "--out", tmp_path / "out"
    )
    assert "a.png" in line
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("kind", KINDS)
def test_crafted_files_in_builtin_dataset_folders_are_refused(
    kind, crafted, marker, tmp_path, monkeypatch
) -> None:
    from aekit.modalities.images.data import builtin

    root = tmp_path / "datasets"
    mnist = root / "mnist"
    mnist.mkdir(parents=True)
    for stem in builtin.IDX_STEMS.values():
        (mnist / f"{stem}.gz").write_bytes(crafted[kind])
    for folder in ("cifar-10-batches-py", builtin.CIFAR_DIR):
        (root / "cifar10" / folder).mkdir(parents=True)
    for name in ("data_batch_1", "data_batch_2", "test_batch", "batches.meta"):
        (root / "cifar10" / "cifar-10-batches-py" / name).write_bytes(crafted[kind])
    for name in (*builtin.CIFAR_TRAIN, builtin.CIFAR_TEST):
        (root / "cifar10" / builtin.CIFAR_DIR / name).write_bytes(crafted[kind])
    monkeypatch.setenv("AEKIT_DATA", str(root))
    refused_in_one_line(lambda: load_dataset("mnist", download=False), marker)
    refused_in_one_line(lambda: load_dataset("cifar10", download=False), marker)


def test_only_the_pickled_cifar_is_reported_not_loaded(tmp_path, marker, monkeypatch) -> None:
    folder = tmp_path / "cifar10" / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    for name in ("data_batch_1", "test_batch", "batches.meta"):
        (folder / name).write_bytes(crafted_files(marker)["pickle"])
    monkeypatch.setenv("AEKIT_DATA", str(tmp_path))
    message = refused_in_one_line(lambda: load_dataset("cifar10", download=False), marker)
    assert "pickled python version" in message


# --------------------------------------------------------------- configs: names, types, keys


@pytest.fixture
def run_config_file(run_dir: Path) -> tuple[Path, dict]:
    return run_dir / ckpt.CONFIG, json.loads((run_dir / ckpt.CONFIG).read_text())


def edit(config: dict, path: str, value) -> dict:
    config = json.loads(json.dumps(config))
    *parents, last = path.split(".")
    node = config
    for part in parents:
        node = node[part]
    node[last] = value
    return config


@pytest.mark.parametrize(
    "path, value, fragment",
    [
        ("model_name", "gan", "unknown model 'gan'"),
        ("model_name", "os.system", "unknown model 'os.system'"),
        ("model_name", ["conv-ae"], "run.model_name must be a string"),
        ("model", "conv-ae", "run.model must be a table"),
        ("model.latent_dim", "2", "latent_dim must be an integer"),
        ("model.latent_dim", 2.5, "latent_dim must be an integer"),
        ("model.latent_dim", True, "latent_dim must be an integer"),
        ("model.channels", "4", "channels must be a list"),
        ("model.image_shape", [1, 16], "image_shape must have 3 items"),
        ("model.image_shape", [1, 10**6, 10**6], "image_shape must be"),
        ("train.epochs", "1", "run.train.epochs must be an integer"),
        ("train.lr", "fast", "run.train.lr must be a number"),
        ("train.lr", 10**400, "too large"),
        ("task.binarize", 1, "run.task.binarize must be true or false"),
        ("data", [], "run.data must be a table"),
        ("extra", 1, "unknown key run.extra"),
        ("model.latnt_dim", 3, "unknown key model 'conv-ae' config.latnt_dim"),
        ("train.__class__", "x", "unknown key run.train.__class__"),
        ("task.noise", "gaussian:nan", "noise"),
    ],
)
def test_bad_run_configs_are_refused(run_config_file, marker, path, value, fragment) -> None:
    file, config = run_config_file
    file.write_text(json.dumps(edit(config, path, value)))
    message = refused_in_one_line(lambda: ckpt.load_run(file.parent), marker)
    assert fragment in message


@pytest.mark.parametrize(
    "text, fragment",
    [
        ('{"model_name": "gan"}', "is for model 'gan', not 'conv-ae'"),
        ('{"train": {"epochs": "10"}}', "run.train.epochs must be an integer"),
        ('{"model": {"channels": [4, "8"]}}', "channels[1] must be an integer"),
        ('{"modle": {}}', "unknown key run.modle"),
        ('{"train": {"epochs": 1, "epoch": 2}}', "unknown key run.train.epoch"),
        ("[1, 2]", "must hold a table of keys"),
        ("[" * 5000, "too deeply"),
        ('{"train": {"epochs": 1' + "0" * 5000 + "}}", "not valid"),
    ],
)
def test_bad_config_files_are_refused(tmp_path, run_cli, marker, text, fragment) -> None:
    path = tmp_path / "settings.json"
    path.write_text(text)
    line = cli_refuses(run_cli, marker, "train", "conv-ae", "--config", path, "--dry-run")
    assert fragment in line


def test_unknown_model_on_the_command_line(run_cli, marker) -> None:
    line = cli_refuses(run_cli, marker, "train", "conv-aee", "--dry-run")
    assert "unknown model 'conv-aee'" in line and "did you mean 'conv-ae'" in line


# ------------------------------------------------------ safetensors that do not fit the config


def weights_of(run_dir: Path) -> dict[str, torch.Tensor]:
    return ckpt.load_tensors(run_dir / ckpt.WEIGHTS)[0]


@pytest.mark.parametrize(
    "change, fragment",
    [
        (lambda w: w.pop("encoder.0.weight"), "missing ['encoder.0.weight']"),
        (lambda w: w.update({"evil.weight": torch.zeros(1)}), "unexpected ['evil.weight']"),
        (
            lambda w: w.update({"encoder.0.weight": torch.zeros(4, 1, 5, 5)}),
            "tensor encoder.0.weight has shape (4, 1, 5, 5)",
        ),
        (
            lambda w: w.update({"encoder.0.bias": torch.zeros(4, dtype=torch.int32)}),
            "tensor encoder.0.bias is torch.int32",
        ),
        (
            lambda w: w.update({"encoder.0.bias": torch.zeros(4, dtype=torch.complex64)}),
            "tensor encoder.0.bias is torch.complex64",
        ),
    ],
)
def test_weights_that_do_not_fit_the_config_name_the_tensor(
    run_dir, marker, change, fragment
) -> None:
    weights = weights_of(run_dir)
    change(weights)
    ckpt.save_tensors_atomic(run_dir / ckpt.WEIGHTS, weights)  # a well-formed safetensors file
    message = refused_in_one_line(lambda: ckpt.load_run(run_dir), marker)
    assert fragment in message


def test_a_config_for_another_model_size_is_refused_naming_the_tensor(run_dir, marker) -> None:
    file = run_dir / ckpt.CONFIG
    file.write_text(json.dumps(edit(json.loads(file.read_text()), "model.latent_dim", 3)))
    message = refused_in_one_line(lambda: ckpt.load_run(run_dir), marker)
    assert "tensor bottleneck.down." in message and "needs (3" in message


# ----------------------------------------------------------------- no unpickling in the source

UNPICKLING_MODULES = {
    "pickle", "_pickle", "cPickle", "cloudpickle", "dill", "joblib", "marshal", "shelve",
    "jsonpickle", "yaml",
}  # fmt: skip
CODE_BUILTINS = {"eval", "exec", "compile", "__import__"}
LOADERS = {("torch", "load"), ("jit", "load"), ("hub", "load"), ("pd", "read_pickle"),
           ("pandas", "read_pickle"), ("importlib", "import_module")}  # fmt: skip


def unsafe_calls(source: str) -> list[str]:
    """What in `source` could run code from a file: unpickling modules, eval/exec, torch.load,
    np.load without an explicit allow_pickle=False, weights_only=False."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [
                f"import {a.name}" for a in node.names if a.name.split(".")[0] in UNPICKLING_MODULES
            ]
        elif isinstance(node, ast.ImportFrom) and node.module:
            root = node.module.split(".")[0]
            names = {a.name for a in node.names}
            if root in UNPICKLING_MODULES or (root in ("torch", "numpy") and "load" in names):
                found.append(f"from {node.module} import {', '.join(sorted(names))}")
        elif isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name) and func.id in CODE_BUILTINS:
                found.append(f"{func.id}()")
            if isinstance(func, ast.Attribute):  # torch.load, torch.jit.load, np.load ...
                owner = func.value
                owner_name = owner.id if isinstance(owner, ast.Name) else getattr(owner, "attr", "")
                pair = (owner_name, func.attr)
                if pair in LOADERS:
                    found.append(".".join(pair))
                if pair in {("np", "load"), ("numpy", "load")}:
                    safe = any(
                        k.arg == "allow_pickle"
                        and isinstance(k.value, ast.Constant)
                        and k.value.value is False
                        for k in node.keywords
                    )
                    if not safe:
                        found.append("np.load without allow_pickle=False")
            for keyword in node.keywords:
                if keyword.arg == "weights_only":
                    found.append("weights_only=")
    return found


def test_the_source_never_unpickles_or_evaluates() -> None:
    offenders = {}
    for path in sorted(SRC.rglob("*.py")):
        calls = unsafe_calls(path.read_text(encoding="utf-8"))
        if calls:
            offenders[str(path.relative_to(SRC))] = calls
    assert not offenders, offenders


@pytest.mark.parametrize(
    "source",
    [
        "import pickle",
        "from pickle import loads",
        "import torch\ntorch.load('x')",
        "from torch import load",
        "import numpy as np\nnp.load('x')",
        "import numpy as np\nnp.load('x', allow_pickle=True)",
        "eval('1')",
        "exec('x = 1')",
        "import torch\ntorch.load('x', weights_only=True)",
        "import joblib",
        "import torch\ntorch.jit.load('x')",
    ],
)
def test_the_source_check_catches_each_unsafe_call(source: str) -> None:
    assert unsafe_calls(source)


def test_the_source_check_allows_the_safe_forms() -> None:
    safe = "import numpy as np\nnp.load('x', allow_pickle=False)\nmodel.eval()\njson.loads('1')"
    assert unsafe_calls(safe) == []


def test_zip_members_are_not_trusted_by_name(tmp_path, marker, run_cli) -> None:
    """An .npz whose member is called x_train.npy but holds a bare pickle."""
    path = tmp_path / "data.npz"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("x_train.npy", crafted_files(marker)["pickle"])
    cli_refuses(run_cli, marker, "train", "conv-ae", "--data", path, "--dry-run")
