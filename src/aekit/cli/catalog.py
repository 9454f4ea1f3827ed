"""`aekit datasets | models`: what there is to train on and with."""

from __future__ import annotations

import typer

from aekit.cli.common import DataDir, app


@app.command()
def datasets(data_dir: DataDir = None) -> None:
    """List every known dataset, where it was found, or how to get it."""
    from aekit.datasets import list_datasets

    for info in list_datasets(data_dir):
        where = f"found: {info.found}" if info.found else f"missing: {info.how_to_get}"
        typer.echo(f"{info.name:<15} {info.description}\n{'':<15} {where}")


@app.command()
def models() -> None:
    """List registered models, one line each: what it is, what it can do, its presets."""
    from aekit.models import SPECS

    for spec in SPECS.values():
        line = f"{spec.name:<10} {spec.description}"
        if spec.modality != "images":  # the default: tag only the others
            line += f" ({spec.modality})"
        if spec.tags:
            line += f" [{', '.join(spec.tags)}]"
        if spec.presets:
            line += f"; presets: {', '.join(spec.presets)}"
        typer.echo(line)
