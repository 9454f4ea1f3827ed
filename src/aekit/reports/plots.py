"""Pictures: image grids (plain mosaics, written as PNG) and matplotlib figures (Agg backend)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from aekit.atomic import atomic_path
from aekit.modalities.images.data import write_image


def grid(images: np.ndarray, ncols: int | None = None, pad: int = 2) -> np.ndarray:
    """(N, C, H, W) floats in [0, 1] -> one (C, rows*(H+pad)+pad, cols*(W+pad)+pad) mosaic on a
    white background, row-major."""
    n, c, h, w = images.shape
    ncols = ncols or math.ceil(math.sqrt(n))
    nrows = math.ceil(n / ncols)
    canvas = np.ones((c, nrows * (h + pad) + pad, ncols * (w + pad) + pad), dtype=np.float32)
    for i, image in enumerate(images):
        r, col = divmod(i, ncols)
        top, left = pad + r * (h + pad), pad + col * (w + pad)
        canvas[:, top : top + h, left : left + w] = image
    return canvas


def save_grid(path: str | Path, images: np.ndarray, ncols: int | None = None) -> None:
    write_image(path, np.clip(grid(np.asarray(images, dtype=np.float32), ncols), 0, 1))


def save_scatter(
    path: str | Path,
    points: np.ndarray,
    labels: np.ndarray | None,
    classes: tuple[str, ...] | None,
    title: str,
    axis_labels: tuple[str, str] = ("z[0]", "z[1]"),
) -> None:
    """A 2-D scatter of codes, coloured by class when labels are known, written as PNG."""
    fig = scatter_figure(points, labels, classes, title, axis_labels)  # selects Agg first
    import matplotlib.pyplot as plt

    with atomic_path(Path(path)) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)


def scatter_figure(
    points: np.ndarray,
    labels: np.ndarray | None,
    classes: tuple[str, ...] | None,
    title: str,
    axis_labels: tuple[str, str] = ("z[0]", "z[1]"),
):
    """The figure `save_scatter` writes (a matplotlib Figure; `aekit report` embeds it)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 6), dpi=120)
    if labels is None:
        ax.scatter(points[:, 0], points[:, 1], s=3, alpha=0.5, color="tab:blue")
    else:
        cmap = plt.get_cmap("tab10" if labels.max() < 10 else "tab20")
        for k in np.unique(labels):
            chosen = labels == k
            name = classes[k] if classes is not None and k < len(classes) else str(k)
            ax.scatter(points[chosen, 0], points[chosen, 1], s=3, alpha=0.6, color=cmap(k % 20),
                       label=name)  # fmt: skip
        ax.legend(markerscale=4, fontsize=8, loc="best")
    ax.set_xlabel(axis_labels[0])
    ax.set_ylabel(axis_labels[1])
    ax.set_title(title)
    fig.tight_layout()
    return fig
