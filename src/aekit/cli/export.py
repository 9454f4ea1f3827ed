"""`aekit export RUN --format onnx --out DIR`: a trained run as files that run without aekit.

ONNX files (encoder.onnx and decoder.onnx; model.onnx for denoisers and upscalers; a melody
VAE's decoder as one step) and preprocessing.json, each file checked against torch with ONNX
Runtime before the directory appears (aekit.export).
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Annotated

import typer

from aekit.cli.common import DataDir, OtherData, RunDir, app

FORMATS = ("onnx",)  # checked again by aekit.export, which this module imports only when run


@app.command("export")
def export(
    run: RunDir,
    out: Annotated[Path, typer.Option("--out", help="Directory for the files (must be new).")],
    fmt: Annotated[str, typer.Option("--format", help="File format: onnx.")] = "onnx",
    data: OtherData = None,
    data_dir: DataDir = None,
    overwrite: Annotated[
        bool, typer.Option(help="Replace --out if it already holds files.")
    ] = False,
) -> None:
    """Export a run to ONNX (checked against torch with ONNX Runtime) + preprocessing.json."""
    from aekit.errors import AekitError

    if fmt not in FORMATS:  # before torch is imported: a typo costs nothing
        raise AekitError(f"unknown --format {fmt!r}; aekit exports {', '.join(FORMATS)}")
    from aekit.export import export_run

    command = shlex.join(["aekit", *sys.argv[1:]])
    done = export_run(
        run, out, fmt, data=data, data_dir=data_dir, overwrite=overwrite, command=command,
        say=typer.echo,
    )  # fmt: skip
    for note in done.notes:
        typer.echo(f"note: {note}")
    typer.echo(f"wrote {', '.join(done.files)} to {out}")
