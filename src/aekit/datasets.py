"""Datasets of every modality behind one pair of functions: `list_datasets`, `load_dataset`.

A dataset name is claimed by exactly one modality (`Modality.claims`): ``fashion-mnist``,
``folder:PATH`` or a directory are images; a melody modality claims its own names. A name no
modality claims goes to the default modality, whose loader says what it knows and suggests the
closest name.

    from aekit import load_dataset
    data = load_dataset("digits")               # the image modality's 8x8 digits
    data = load_dataset("mnist", limit=1000)    # options are the claiming modality's
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from aekit.errors import AekitError
from aekit.modalities import DEFAULT_MODALITY, MODALITIES, DatasetInfo, get_modality


def modality_of(name: str | os.PathLike[str]) -> str | None:
    """The modality that claims dataset `name`, or None when none does."""
    claimed = [m for m in MODALITIES if get_modality(m).claims(os.fspath(name))]
    if len(claimed) > 1:  # e.g. a directory two modalities could read
        raise AekitError(
            f"dataset {os.fspath(name)!r} could be {' or '.join(claimed)} data; name it with "
            "its modality's prefix (folder:PATH for images)"
        )
    return claimed[0] if claimed else None


def load_dataset(name: str | os.PathLike[str], **options: Any) -> Any:
    """The dataset `name` means, loaded by the modality that claims it (see that modality's
    `load_dataset` for `options`; images: data_dir, val_fraction, test_fraction, seed,
    image_size, channels, limit, download)."""
    modality = get_modality(modality_of(name) or DEFAULT_MODALITY)
    return modality.load_dataset(name, **options)


def list_datasets(data_dir: str | Path | None = None) -> list[DatasetInfo]:
    """One row per dataset every modality knows, without downloading anything."""
    return [info for m in MODALITIES for info in get_modality(m).list_datasets(data_dir)]
