"""`aekit report | demo`: a run as one HTML page; four runs trained and reported as a demo."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from aekit.cli.common import DataDir, OtherData, RunDir, app


@app.command()
def report(
    run: RunDir,
    out: Annotated[
        Path | None, typer.Option("--out", help="HTML file to write (default RUN/report.html).")
    ] = None,
    data: OtherData = None,
    data_dir: DataDir = None,
    limit: Annotated[int, typer.Option(help="Score and plot at most N test images.")] = 2000,
    nll_samples: Annotated[
        int, typer.Option(help="Variational models: importance-sampled NLL with K draws (0: off).")
    ] = 0,
) -> None:
    """Write one self-contained HTML page about a run: settings, data, loss curves, metrics
    beside baselines, pictures (and PNG copies of them beside the page)."""
    from aekit.reports.report import build_report

    result = build_report(
        run, out=out, data=data, data_dir=data_dir, limit=limit, nll_samples=nll_samples
    )
    if result.headline is not None:
        typer.echo(f"{run}: {result.headline.describe()}")
    folder = result.html.with_suffix("")
    typer.echo(
        f"wrote {result.html} ({len(result.figures)} figures, also as PNG in {folder}/) "
        f"in {result.seconds:.1f} s"
    )


@app.command()
def demo(
    out: Annotated[Path, typer.Option("--out", help="Directory for the four runs.")] = Path(
        "runs/demo"
    ),
    data: Annotated[str, typer.Option(help="Dataset to train on.")] = "fashion-mnist",
    data_dir: DataDir = None,
    progress: Annotated[bool, typer.Option(help="Show progress bars.")] = True,
    threads: Annotated[
        int | None, typer.Option(help="Torch threads (default: the cores other jobs leave free).")
    ] = None,
) -> None:
    """Train a conv autoencoder, a denoiser, an x2 upscaler and a 2-D VAE (a few minutes on 2
    CPU cores), report each, and write OUT/index.html comparing them with their baselines."""
    import torch

    from aekit.demo import run_demo
    from aekit.runtime.precision import choose_threads

    count, why = choose_threads(threads)
    if progress:
        typer.echo(f"using {count} torch thread{'s' if count > 1 else ''} ({why})", err=True)
    before = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        index = run_demo(out, data=data, data_dir=data_dir, progress=progress)
    finally:
        torch.set_num_threads(before)  # for callers in this process (tests)
    typer.echo(f"open {index}")
