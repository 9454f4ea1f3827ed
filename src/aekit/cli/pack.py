"""`aekit pack`: images -> uint8 shards on disk, for data larger than memory (shards:DIR)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from aekit.cli.common import DataDir, app


@app.command()
def pack(
    source: Annotated[
        str,
        typer.Argument(
            help="What to pack: a dataset name (see `aekit datasets`), folder:PATH or a "
            "directory of images (read one image at a time), or npz:PATH."
        ),
    ],
    out: Annotated[
        Path,
        typer.Option(
            "--out", help="Directory to create; then: aekit train MODEL --data shards:DIR."
        ),
    ],
    size: Annotated[int | None, typer.Option(help="Resize every image to N x N.")] = None,
    shard_rows: Annotated[
        int | None, typer.Option(help="Images per shard file (default: about 256 MiB each).")
    ] = None,
    grayscale: Annotated[
        bool | None,
        typer.Option("--grayscale/--rgb", help="Store 1 or 3 channels (default: the source's)."),
    ] = None,
    force: Annotated[bool, typer.Option(help="Replace --out if it is not empty.")] = False,
    data_dir: DataDir = None,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
) -> None:
    """Pack images into uint8 .npy shards and a JSON index, read later through memory maps:
    `aekit train MODEL --data shards:DIR` then trains on data larger than memory, with the
    split and the weights training on the source in memory gives."""
    from aekit.modalities.images.data.pack import pack as pack_images

    channels = None if grayscale is None else (1 if grayscale else 3)
    summary = pack_images(
        source, out, size=size, channels=channels, shard_rows=shard_rows, force=force,
        data_dir=data_dir, progress=progress,
    )  # fmt: skip
    typer.echo(summary.line())
