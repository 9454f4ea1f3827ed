"""aekit's data layer: named datasets, image and IDX file I/O.

Everything is uint8 (N, C, H, W) in memory; see `splits.py` for how train / val / test are
drawn and `sources.py` for where each dataset is looked for.
"""

from aekit.modalities.images.data.idx import read_idx, write_idx
from aekit.modalities.images.data.images import read_image, write_image
from aekit.modalities.images.data.sources import list_datasets, load_dataset
from aekit.modalities.images.data.splits import Dataset, DatasetInfo, ImageSet

__all__ = [
    "Dataset",
    "DatasetInfo",
    "ImageSet",
    "list_datasets",
    "load_dataset",
    "read_idx",
    "read_image",
    "write_idx",
    "write_image",
]
