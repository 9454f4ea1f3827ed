"""The image modality: data sources, tasks, metrics, classical baselines, PNG/JPEG files.

`IMAGES` is what `aekit.modalities.get_modality("images")` returns (modality.py).
"""

from aekit.modalities.images.modality import ImageModality

IMAGES = ImageModality()

__all__ = ["IMAGES", "ImageModality"]
