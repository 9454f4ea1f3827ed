"""What every command module shares: the Typer app and the arguments several commands take.

Command modules import this and register on `app`; `aekit.cli.entry` imports every command
module and runs the app. Nothing here imports a command module, so there is no circle.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from aekit import __version__

# add_completion: `aekit --install-completion` (bash, zsh, fish, PowerShell) and
# `--show-completion`; typer imports its completion code either way, so --help costs no more.
app = typer.Typer(
    add_completion=True,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Train and use autoencoders on your own images.",
)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"aekit {__version__}")
        raise typer.Exit()


@app.callback()  # the root's own options; its help is the app's
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    pass


RunDir = Annotated[Path, typer.Argument(help="A run directory written by `aekit train`.")]
Split = Annotated[str, typer.Option(help="test, val or train.")]
OtherData = Annotated[str | None, typer.Option("--data", help="Dataset (default: the run's).")]
DataDir = Annotated[
    Path | None, typer.Option("--data-dir", help="Look here first for dataset files.")
]
