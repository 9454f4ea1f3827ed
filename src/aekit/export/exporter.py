"""`export_run`: a trained run as ONNX files and preprocessing.json, checked before it counts.

    run dir -> load_run (fp32, eval) -> graphs (graphs.py) -> one .onnx each (onnx.py)
            -> |torch - ONNX Runtime| on check inputs, at their batch size and at 1
            -> preprocessing.json (card.py) -> the directory appears whole, or not at all

The check inputs are the first rows of the run's test split (its dataset, or --data), made
into model inputs by the run's own task (noise for a denoiser, downscaling for an upscaler,
exactly as in training). When the run's dataset cannot be loaded here, random inputs in the
model's range are used and the output says so; data the user named must load. A difference
above `TOLERANCE` fails the export in one line, and nothing is left in --out.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from aekit.atomic import atomic_directory, write_json_atomic
from aekit.core.spec import spec_for
from aekit.errors import AekitError
from aekit.export.card import CARD, TOLERANCE, make_card
from aekit.export.graphs import graphs_for
from aekit.export.onnx import OPSET, export_graph, max_difference, require_onnx
from aekit.modalities import get_modality

FORMATS = ("onnx",)
CHECK_ROWS = 8  # rows of the test split each file is checked on (and the first alone)


@dataclass(frozen=True)
class CheckInputs:
    """Model inputs to compare torch and ONNX Runtime on, and where they came from."""

    x: torch.Tensor
    y: torch.Tensor | None  # labels, for a conditional model
    source: str  # "8 test images of shapes.npz" / "8 random inputs (...)"
    classes: tuple[str, ...] = ()  # the dataset's class names, when it was loaded


@dataclass(frozen=True)
class Exported:
    out: Path
    files: list[str]  # the ONNX files, then the card
    differences: dict[str, float]  # file -> max |torch - ONNX Runtime|
    checked_on: str
    notes: list[str] = field(default_factory=list)


def check_format(fmt: str) -> None:
    if fmt not in FORMATS:
        raise AekitError(f"unknown --format {fmt!r}; aekit exports {', '.join(FORMATS)}")


def export_run(
    run_dir: str | Path,
    out: str | Path,
    fmt: str = "onnx",
    *,
    data: str | None = None,
    data_dir: str | Path | None = None,
    overwrite: bool = False,
    command: str | None = None,
    say: Callable[[str], None] = lambda line: None,
) -> Exported:
    """Export the run in `run_dir` to the directory `out` (ONNX files + preprocessing.json),
    after checking each file against torch; `say` gets one line per file as it is checked."""
    check_format(fmt)
    require_onnx()
    from aekit.training.checkpoint import load_run

    run = load_run(run_dir)  # on the CPU, fp32, evaluation mode
    out = Path(out)
    task = run.config.task.get("name", "identity")
    graphs = graphs_for(run.model, run.config.modality, task)
    differences: dict[str, float] = {}
    notes: list[str] = []
    with atomic_directory(out, replace=overwrite) as tmp:  # refuses a used --out at once
        inputs = check_inputs(run, data, data_dir)
        for graph in graphs:
            with torch.no_grad():
                feeds = graph.feeds(inputs.x, inputs.y)
            if export_graph(graph, feeds[0], tmp / graph.file):
                notes.append(f"{graph.file} keeps its weights in {graph.file}.data beside it")
            diff = max_difference(graph, tmp / graph.file, feeds)
            differences[graph.file] = diff
            say(f"{graph.file}: max |torch - onnxruntime| = {diff:.2e} on {inputs.source}")
            if not diff <= TOLERANCE:
                raise AekitError(
                    f"{graph.file} differs from the torch model by up to {diff:.2e} "
                    f"(allowed: {TOLERANCE:.0e}) on {inputs.source}; nothing was written"
                )
        parity = {
            "checked_on": inputs.source, "tolerance": TOLERANCE,
            "max_abs_difference": differences, "onnxruntime": onnxruntime_version(),
        }  # fmt: skip
        card = make_card(run, graphs, parity, command, inputs.classes, OPSET)
        write_json_atomic(tmp / CARD, card)
        files = sorted(p.name for p in tmp.iterdir())
    return Exported(out, files, differences, inputs.source, notes)


def onnxruntime_version() -> str:
    import onnxruntime

    return onnxruntime.__version__


def check_inputs(run: Any, data: str | None, data_dir: str | Path | None) -> CheckInputs:
    """The first rows of the run's data as model inputs, or random ones (saying why)."""
    from aekit.runs import run_data

    spec = spec_for(run.model)
    generator = torch.Generator().manual_seed(0)
    expected = tuple(spec.dummy_inputs(1, run.model.config, generator)[0].shape[1:])
    try:
        dataset = run_data(run.config, data, data_dir)
        found = from_dataset(run, dataset, expected)
    except AekitError as exc:
        if data is not None:
            raise
        x, y = spec.dummy_inputs(CHECK_ROWS, run.model.config, generator)
        reason = str(exc).rstrip(".")
        return CheckInputs(x, y, f"{CHECK_ROWS} random inputs in the model's range ({reason})")
    return found


def from_dataset(run: Any, dataset: Any, expected: tuple[int, ...]) -> CheckInputs:
    """The first CHECK_ROWS rows of the first non-empty split (test, val, train), through the
    run's task; one line when they are not what the model takes."""
    name = next((s for s in ("test", "val", "train") if len(getattr(dataset, s))), None)
    if name is None:
        raise AekitError(f"{dataset.name} has no rows to check the export on")
    split = getattr(dataset, name)
    n = min(CHECK_ROWS, len(split))
    index = np.arange(n) if n > 1 else np.zeros(2, dtype=np.int64)  # a batch of one would let
    raw = np.asarray(split.rows[index])  # torch.export fix the batch axis to 1
    modality = get_modality(run.config.modality)
    task = modality.build_task(run.config.task)
    x, _ = task(task.prepare(torch.from_numpy(raw)), torch.Generator().manual_seed(0))
    if tuple(x.shape[1:]) != expected:
        raise AekitError(
            f"{dataset.name}'s {split.noun} become inputs of shape {tuple(x.shape[1:])}, but "
            f"the model takes {expected}"
        )
    y = None
    if spec_for(run.model).conditional:
        if split.labels is None:
            raise AekitError(f"{dataset.name} has no labels for the conditional model")
        y = torch.from_numpy(np.asarray(split.labels[index], dtype=np.int64))
    source = f"{n} {name} {split.noun} of {dataset.name}"
    return CheckInputs(x, y, source, tuple(dataset.classes or ()))
