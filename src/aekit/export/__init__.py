"""Exporting a trained run for use without aekit (`aekit export`).

    from aekit.export import export_run
    export_run("runs/fm16", "exported/")   # encoder.onnx, decoder.onnx, preprocessing.json

graphs.py says which files a run gives, onnx.py writes and checks one, card.py writes the
preprocessing.json beside them, exporter.py puts them together. The names here are imported on
first use (PEP 562), so importing this package loads neither torch nor onnx.
"""

from importlib import import_module
from typing import Any

__all__ = ["FORMATS", "Exported", "export_run"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        return getattr(import_module("aekit.export.exporter"), name)
    raise AttributeError(f"module 'aekit.export' has no attribute {name!r}")
