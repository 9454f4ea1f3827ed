"""The `aekit` command line: thin commands over the library, one module per command group.

    common.py    the Typer app and shared arguments (imports no command module)
    catalog.py   datasets, models
    train.py     train (and the run-config layering: defaults < preset < file < flags < --set)
    evaluate.py  eval
    images.py    reconstruct, denoise, upscale, embed
    pack.py      pack (images -> shards read by memory map)
    latent.py    generate, perturb, latent-plot, sample, interpolate, manifold
    report.py    report, demo
    serve.py     serve
    export.py    export (ONNX files for use without aekit)
    entry.py     registers them all and holds `main`; nothing imports it back

Importing this package imports nothing heavy: `aekit --help` never loads torch.
"""

from typing import Any

__all__ = ["app", "build_run_config", "main"]


def __getattr__(name: str) -> Any:  # PEP 562: `from aekit.cli import main` stays cheap
    if name in ("main", "app"):
        from aekit.cli import entry

        return getattr(entry, name)
    if name == "build_run_config":
        from aekit.cli.train import build_run_config

        return build_run_config
    raise AttributeError(f"module 'aekit.cli' has no attribute {name!r}")
