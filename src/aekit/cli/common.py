"""What every command module shares: the Typer app and the arguments several commands take.

Command modules import this and register on `app`; `aekit.cli.entry` imports every command
module and runs the app. Nothing here imports a command module, so there is no circle.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Train and use autoencoders on your own images.",
)

RunDir = Annotated[Path, typer.Argument(help="A run directory written by `aekit train`.")]
Split = Annotated[str, typer.Option(help="test, val or train.")]
OtherData = Annotated[str | None, typer.Option("--data", help="Dataset (default: the run's).")]
DataDir = Annotated[
    Path | None, typer.Option("--data-dir", help="Look here first for dataset files.")
]
