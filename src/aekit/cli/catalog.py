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
    """List registered models, one line each."""
    from aekit.models import DESCRIPTIONS, MODELS

    for name in MODELS:
        typer.echo(f"{name:<10} {DESCRIPTIONS[name]}")
