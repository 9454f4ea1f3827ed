"""`aekit reconstruct | denoise | upscale | embed`: a trained model applied to files and splits.

Every input file is read and checked before anything is written, so a bad file in the middle of
a list leaves no half-finished output directory. `reconstruct` hands melody runs to
cli/melody.py (MIDI in, MIDI, WAV and a piano roll out).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer

from aekit.cli import melody
from aekit.cli.common import DataDir, OtherData, RunDir, Split, app
from aekit.core.spec import num_classes
from aekit.errors import AekitError

Files = Annotated[list[Path], typer.Argument(help="PNG or JPEG images.")]
OutDir = Annotated[Path, typer.Option("--out", help="Directory for the output PNGs.")]
FilesOrMidi = Annotated[
    list[Path], typer.Argument(help="PNG or JPEG images (melody runs: MIDI files).")
]
OUT_FILES = "Directory for the outputs (PNGs; melody runs: MIDI, WAV and a piano roll)."
OutFiles = Annotated[Path, typer.Option("--out", help=OUT_FILES)]
Windows = Annotated[
    int | None,
    typer.Option(help="Melody runs: only the first N 2-bar windows of each file (default: all)."),
]
Resize = Annotated[
    bool, typer.Option(help="Resize inputs to the model's input size instead of refusing.")
]
Label = Annotated[
    int | None, typer.Option(help="Conditional models (cvae): the class of the images.")
]


def label_array(model: Any, label: int | None, n: int) -> np.ndarray | None:
    """n copies of `label` for a conditional model, None for the others; one line when a label
    is missing, out of range, or given to a model that takes none."""
    classes = num_classes(model)
    name = type(model).__name__
    if classes is None:
        if label is not None:
            raise AekitError(f"--label: this {name} is not conditional, it takes no label")
        return None
    if label is None:
        raise AekitError(f"this {name} is conditioned on the class: give --label 0..{classes - 1}")
    if not 0 <= label < classes:
        raise AekitError(f"--label {label} is outside the trained classes 0..{classes - 1}")
    return np.full(n, label, dtype=np.int64)


def apply_to_files(
    run: Path, files: list[Path], out: Path, resize: bool, task: str | None, label: int | None
) -> None:
    """Run a model over files, writing out/<stem><suffix> for each (images: PNG); `task` (if
    given) is the training task the command needs (denoise needs a denoiser, upscale an
    upscaler). Files are read, checked and written by the run's modality."""
    from aekit.modalities import check_file_for, get_modality
    from aekit.training.checkpoint import load_run

    loaded = load_run(run)
    modality = get_modality(loaded.config.modality)
    trained_for = loaded.config.task["name"]
    if task is not None and trained_for != task:
        raise AekitError(
            f"run {run} was trained for the task {trained_for!r}, not {task!r}; train one with "
            f"--task {task} (or use `aekit reconstruct` to apply it anyway)"
        )
    targets = [out / f"{f.stem}{modality.output_suffix}" for f in files]
    clash = {t.resolve() for t in targets} & {f.resolve() for f in files}
    if clash:
        first = sorted(clash)[0]
        raise AekitError(f"--out would overwrite the input {first}; choose another --out")
    if len(set(targets)) != len(targets):
        raise AekitError("two inputs share a file name; their outputs would overwrite each other")
    labels = label_array(loaded.model, label, len(files))
    for f in files:
        check_file_for(f, modality.name, loaded.config.model_name)
    rows = [modality.read_file(f, loaded.model, resize) for f in files]  # all checked first
    outputs = modality.reconstruct(loaded.model, np.stack(rows), labels)
    out.mkdir(parents=True, exist_ok=True)
    typer.echo(f"wrote {modality.write_outputs(targets, outputs)} to {out}")


def read_for_model(path: Path, model: Any, resize: bool, modality: str = "images") -> np.ndarray:
    """A user's file as one raw row for `model`, read and checked by `modality`: an image of a
    different size is refused unless `resize`; other channels are always refused."""
    from aekit.modalities import get_modality

    return get_modality(modality).read_file(path, model, resize)


@app.command()
def reconstruct(
    run: RunDir,
    files: FilesOrMidi,
    out: OutFiles,
    resize: Resize = False,
    label: Label = None,
    windows: Windows = None,
) -> None:
    """Pass image files (or MIDI files, for a melody run) through a trained model into --out."""
    if melody.is_melody_run(run):
        from aekit.training.checkpoint import load_run

        melody.reconstruct(load_run(run), files, out, windows, resize, label)
        return
    if windows is not None:
        raise AekitError(f"--windows is for melody runs; run {run} reconstructs images")
    apply_to_files(run, files, out, resize, task=None, label=label)


@app.command()
def denoise(
    run: RunDir, files: Files, out: OutDir, resize: Resize = False, label: Label = None
) -> None:
    """Denoise image files with a model trained with --task denoise."""
    apply_to_files(run, files, out, resize, task="denoise", label=label)


@app.command()
def upscale(
    run: RunDir,
    out: OutDir,
    files: Annotated[list[Path] | None, typer.Argument(help="PNG or JPEG images.")] = None,
    resize: Resize = False,
    random_inputs: Annotated[
        int,
        typer.Option(
            help="Upscale N images of pure uniform noise instead (the lesson's "
            "exercise: what does the model invent?)."
        ),
    ] = 0,
    seed: Annotated[int, typer.Option(help="Seed of --random-inputs.")] = 0,
    label: Label = None,
) -> None:
    """Upscale image files x2 or x4 with a model trained with --task superres."""
    if random_inputs:
        upscale_noise(run, out, random_inputs, seed)
    elif files:
        apply_to_files(run, files, out, resize, task="superres", label=label)
    else:
        raise AekitError("give image files to upscale, or --random-inputs N")


def upscale_noise(run: Path, out: Path, n: int, seed: int) -> None:
    """Write noise-<i>-in.png (nearest-upscaled, to compare) and noise-<i>-out.png."""
    import torch

    from aekit.inference import reconstruct as run_model
    from aekit.modalities.images.data import write_image
    from aekit.training.checkpoint import load_run

    if n < 1:
        raise AekitError(f"--random-inputs must be >= 1, got {n}")
    loaded = load_run(run)
    if loaded.config.task["name"] != "superres":
        raise AekitError(f"run {run} is not an upscaler (task {loaded.config.task['name']!r})")
    shape = (n, *loaded.model.config.image_shape)
    noise = torch.randint(0, 256, shape, generator=torch.Generator().manual_seed(seed))
    noise = noise.to(torch.uint8).numpy()
    outputs = run_model(loaded.model, noise)
    scale = outputs.shape[-1] // noise.shape[-1]
    out.mkdir(parents=True, exist_ok=True)
    for i, (small, big) in enumerate(zip(noise, outputs, strict=True)):
        write_image(out / f"noise-{i}-in.png", small.repeat(scale, 1).repeat(scale, 2))
        write_image(out / f"noise-{i}-out.png", big)
    typer.echo(f"wrote {n} pure-noise inputs and what the model made of them to {out}")


@app.command()
def embed(
    run: RunDir,
    out: Annotated[Path, typer.Option("--out", help="The .npz file to write (arrays z, labels).")],
    data: OtherData = None,
    data_dir: DataDir = None,
    split: Split = "test",
    sample: Annotated[
        bool, typer.Option(help="Variational models: draw a code instead of the mean.")
    ] = False,
) -> None:
    """Encode a dataset split and save the codes (z: N x code_dim) and labels."""
    from aekit.atomic import atomic_path
    from aekit.inference import embed as run_encoder

    if out.suffix != ".npz":
        raise AekitError(f"--out must end in .npz, got {out}")
    loaded = load_autoencoder(run, "embed")
    _, subset = run_split(loaded, data, data_dir, split)
    codes = run_encoder(loaded.model, subset.rows, sample=sample, labels=subset.labels)
    arrays = {"z": codes.reshape(codes.shape[0], -1), "code_shape": np.array(codes.shape[1:])}
    if subset.labels is not None:
        arrays["labels"] = subset.labels
    with atomic_path(out) as tmp, open(tmp, "wb") as f:
        np.savez(f, **arrays)
    typer.echo(f"wrote {codes.shape[0]} codes of dimension {arrays['z'].shape[1]} to {out}")


def load_autoencoder(run: Path, command: str | None):
    """A run whose decoder turns codes into data (not an upscaler); for `command` (an image
    verb) a run of images, one line naming the melody verbs otherwise (None: any modality)."""
    from aekit.training.checkpoint import load_run

    loaded = load_run(run)
    modality = loaded.config.modality
    if command is not None and modality != "images":
        raise AekitError(
            f"`aekit {command}` works on image runs, and run {run} ({loaded.config.model_name}) "
            f"is a {modality} run; melody runs take aekit sample, reconstruct and interpolate"
        )
    if loaded.config.task["name"] == "superres":
        raise AekitError(f"run {run} is an upscaler; its code is a feature map, not a latent code")
    return loaded


def run_split(loaded: Any, data: str | None, data_dir: Path | None, split: str):
    """(dataset, dataset.<split>) of the run's dataset, or of --data."""
    from aekit.runs import run_data

    check_split(split)
    dataset = run_data(loaded.config, data, data_dir)
    return dataset, getattr(dataset, split)


def check_split(split: str) -> None:
    if split not in ("test", "val", "train"):
        raise AekitError(f"--split must be test, val or train, got {split!r}")
