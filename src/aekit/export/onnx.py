"""A `Graph` to one ONNX file, and the check that ONNX Runtime computes what torch does.

The exporter is torch's own, `torch.onnx.export(..., dynamo=True)` (the default since torch 2.9;
it traces with torch.export and translates with onnxscript). Its default writes the weights
beside the model in a `.onnx.data` file; `external_data=False` keeps them inside, one file to
copy, as long as the protobuf stays under its 2 GB limit, so only models near that limit are
written with a data file beside them. Tracing runs in fp32 and evaluation mode: BatchNorm uses
its running statistics, dropout is off, and no bf16 autocast is active here.

The torch exporter prints its progress and warns about optional packages it skips
(torchvision's operators); both are swallowed so that `aekit export` prints its own lines only.
Its own failure is one line naming the file.
"""

from __future__ import annotations

import contextlib
import io
import logging
import warnings
from pathlib import Path

import numpy as np
import torch

from aekit.errors import AekitError
from aekit.export.graphs import Graph
from aekit.extras import require

OPSET = 20  # what the torch 2.13 exporter writes by default; ONNX Runtime 1.21+ runs it
MIN_TORCH = (2, 9)  # the first torch whose default exporter is the dynamo one used here
# Weights above this go into a .onnx.data file beside the model (protobuf's limit is 2 GiB).
INLINE_LIMIT = 1 << 30
ONNX_MODULES = ("onnx", "onnxscript", "onnxruntime")


def require_onnx() -> None:
    """One line naming the extra when a package of it is missing, before anything slow."""
    for module in ONNX_MODULES:
        require(module, "onnx", "aekit export --format onnx")
    version = tuple(int(p) for p in torch.__version__.split("+")[0].split(".")[:2])
    if version < MIN_TORCH:
        raise AekitError(
            f"aekit export needs torch >= {'.'.join(map(str, MIN_TORCH))} (its ONNX exporter); "
            f"this is torch {torch.__version__}"
        )


def weight_bytes(module: torch.nn.Module) -> int:
    tensors = [*module.parameters(), *module.buffers()]
    return sum(t.numel() * t.element_size() for t in tensors)


@contextlib.contextmanager
def quiet_exporter():
    """Silence the exporter's progress prints, warnings and log lines (its errors still raise)."""
    loggers = [logging.getLogger(name) for name in ("torch.onnx", "torch.export", "onnxscript")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        with (
            warnings.catch_warnings(),
            contextlib.redirect_stdout(io.StringIO()),
            contextlib.redirect_stderr(io.StringIO()),
        ):
            warnings.simplefilter("ignore")
            yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)


def export_graph(graph: Graph, example: tuple[torch.Tensor, ...], path: Path) -> bool:
    """Write `graph` to `path` (ONNX, opset OPSET, dynamic batch axis), traced on `example`;
    True when its weights went into a `.onnx.data` file beside it (large models only)."""
    module = graph.module.eval().float()
    external = weight_bytes(module) > INLINE_LIMIT
    # One tensor passed as two inputs (a zero state as both h and c) would be traced as one
    # input feeding both places: each input gets its own copy.
    example = tuple(t.clone() for t in example)
    try:
        with quiet_exporter(), torch.no_grad():
            torch.onnx.export(
                module, example, str(path), dynamo=True, opset_version=OPSET,
                input_names=[p.name for p in graph.inputs],
                output_names=[p.name for p in graph.outputs],
                dynamic_shapes=graph.batch_axes(), external_data=external, verbose=False,
            )  # fmt: skip
    except Exception as exc:  # the exporter raises many kinds; the first line says which
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise AekitError(f"torch could not export {graph.file}: {first}") from None
    return external


def session(path: Path):
    """An ONNX Runtime session on the CPU, one thread: what a user's plain install runs."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.log_severity_level = 3  # errors only
    try:
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:
        raise AekitError(f"ONNX Runtime cannot load {path.name}: {exc}") from None


@torch.no_grad()
def max_difference(graph: Graph, path: Path, feeds: list[tuple[torch.Tensor, ...]]) -> float:
    """The largest |torch - ONNX Runtime| over every output of every feed; shapes must agree."""
    runtime = session(path)
    names = [p.name for p in graph.inputs]
    worst = 0.0
    for feed in feeds:
        expected = graph.module(*feed)
        got = runtime.run(None, {n: t.numpy() for n, t in zip(names, feed, strict=True)})
        for port, want, have in zip(graph.outputs, expected, got, strict=True):
            want = want.float().numpy()
            if want.shape != have.shape:
                raise AekitError(
                    f"{graph.file}: ONNX Runtime's {port.name} has shape {have.shape}, torch's "
                    f"{want.shape} (batch {feed[0].shape[0]})"
                )
            if want.size:
                diff = np.abs(want.astype(np.float64) - have)
                diff[np.isnan(diff)] = np.inf  # NaN in one of them only is as bad as it gets
                diff[np.isnan(want) & np.isnan(have)] = 0.0
                worst = max(worst, float(diff.max()))
    return worst
