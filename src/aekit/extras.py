"""Optional parts of aekit, and the one line a missing one is reported with.

pyproject.toml declares them as extras: `serve` (the explorer: fastapi, uvicorn, python-multipart,
swagger-ui-bundle-v2), `music` (melodies: mido, music21), `track` (`--log tensorboard`),
`mlflow` (`--log mlflow`, not in `all`) and `all`. Code that needs one asks
first, so a plain `pip install aekit` user gets

    aekit: error: aekit serve needs the serve extra: pip install 'aekit[serve]'

instead of a ModuleNotFoundError traceback from deep inside an import.

    fastapi = require("fastapi", "serve", "aekit serve")
"""

from __future__ import annotations

from importlib import import_module
from types import ModuleType

from aekit.errors import AekitError


def require(module: str, extra: str, what: str) -> ModuleType:
    """Import `module`, or say in one line that `what` needs aekit's `extra` and how to get it.

    Any ImportError counts, not only a missing top-level module: a dependency of `module` that
    is gone is fixed by the same reinstall."""
    try:
        return import_module(module)
    except ImportError:
        raise AekitError(f"{what} needs the {extra} extra: pip install 'aekit[{extra}]'") from None
