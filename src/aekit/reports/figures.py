"""The figures of `aekit report`: matplotlib (Agg) figures rendered to PNG bytes in memory.

The report embeds each PNG in its HTML and also writes it as a file. Rendering to bytes first
means nothing is written until every figure exists, so a failure leaves no half-made report.
Every figure has a title and labelled axes or rows: it must read on its own, out of the page.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from aekit.reports.plots import grid

Rows = Sequence[tuple[str, np.ndarray]]  # (row label, images (N, C, H, W) floats in [0, 1])

SPLITS = ("train", "val")
PART_TITLES = {
    "loss": "total loss (what is minimised)",
    "recon": "reconstruction term",
    "kl": "KL(q(z|x) || p(z))",
    "elbo": "ELBO (higher is better)",
}


def pyplot() -> Any:
    """matplotlib.pyplot on the Agg backend: reports are made without a display."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def png_bytes(fig: Any) -> bytes:
    """Render `fig` as PNG and close it (figures hold memory until closed)."""
    plt = pyplot()
    buffer = io.BytesIO()
    try:
        fig.savefig(buffer, format="png", dpi=fig.dpi)
    finally:
        plt.close(fig)
    return buffer.getvalue()


def loss_parts(history: Sequence[dict[str, Any]]) -> list[str]:
    """The loss's parts logged per epoch ('loss', 'recon', 'kl', ...), in first-seen order:
    metrics.jsonl has train_<part> and (with validation data) val_<part> for each. A part that
    is the whole loss (a plain autoencoder's `recon`) would only draw the same panel twice."""
    parts: list[str] = []
    for row in history:
        for key in row:
            for prefix in ("train_", "val_"):
                if key.startswith(prefix) and key[len(prefix) :] not in parts:
                    parts.append(key[len(prefix) :])

    def is_the_loss(part: str) -> bool:
        pairs = ((row.get(f"{s}_{part}"), row.get(f"{s}_loss")) for row in history for s in SPLITS)
        return all(a == b for a, b in pairs)

    kept = [p for p in parts if p != "loss" and not is_the_loss(p)]
    return ["loss", *kept] if "loss" in parts else kept


def loss_curves(
    history: Sequence[dict[str, Any]], title: str, unit: str = "per image (sum over pixels)"
) -> Any:
    """One panel per loss part, train and validation against the epoch; `unit` labels the
    y axis of every part but accuracies."""
    from matplotlib.ticker import MaxNLocator

    plt = pyplot()
    parts = loss_parts(history)
    last_epoch = max(row["epoch"] for row in history)
    ncols = min(len(parts), 3)
    nrows = math.ceil(len(parts) / ncols)
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(4.4 * ncols, 3.4 * nrows), dpi=110, squeeze=False
    )
    for ax, part in zip(axes.flat, parts, strict=False):
        for split, style in (("train", "o-"), ("val", "s--")):
            points = [(r["epoch"], r[f"{split}_{part}"]) for r in history if f"{split}_{part}" in r]
            if points:
                epochs, values = zip(*points, strict=True)
                name = "training" if split == "train" else "validation"
                ax.plot(epochs, values, style, markersize=4, label=name)
        ax.set_title(PART_TITLES.get(part, part), fontsize=10)
        ax.set_xlabel("epoch")
        ax.set_ylabel("accuracy" if part.endswith("acc") else unit)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlim(0.5, max(last_epoch, 1) + 0.5)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    for ax in axes.flat[len(parts) :]:
        ax.axis("off")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def show(ax: Any, image: np.ndarray) -> None:
    """One (C, H, W) image in [0, 1], gray or RGB, pixels kept sharp."""
    image = np.clip(image, 0, 1)
    if image.shape[0] == 1:
        ax.imshow(image[0], cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    else:
        ax.imshow(image.transpose(1, 2, 0), interpolation="nearest")


def enlarge(images: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Nearest-neighbour enlargement to (H, W) = size, so a low-res input sits beside the
    output at the same scale and its pixels stay visible."""
    h, w = images.shape[-2:]
    if (h, w) == size or size[0] % h or size[1] % w:
        return images
    return images.repeat(size[0] // h, axis=-2).repeat(size[1] // w, axis=-1)


def image_rows(rows: Rows, title: str, column_titles: Sequence[str] | None = None) -> Any:
    """Rows of images, one labelled row per kind (input, output, baseline, target), columns
    aligned so each column is one example. Drawn as one picture in one set of axes: a
    matplotlib axes per image would make a 50-image figure take seconds."""
    ncols = max(len(images) for _, images in rows)
    size = max(tuple(images.shape[-2:]) for _, images in rows)
    channels = max(images.shape[1] for _, images in rows)
    blank = np.ones((channels, *size), dtype=np.float32)
    tiles = []
    for _, images in rows:
        images = enlarge(np.asarray(images, dtype=np.float32), size)
        images = np.broadcast_to(images, (len(images), channels, *size))
        tiles += [*images, *([blank] * (ncols - len(images)))]
    return mosaic(np.stack(tiles), ncols, title, row_labels=[label for label, _ in rows],
                  column_titles=column_titles, tile_inches=0.85)  # fmt: skip


def mosaic(
    images: np.ndarray,
    ncols: int,
    title: str,
    *,
    axis_labels: tuple[str, str] | None = None,
    ticks: tuple[Sequence[str], Sequence[str]] | None = None,
    row_labels: Sequence[str] | None = None,
    column_titles: Sequence[str] | None = None,
    tile_inches: float = 0.45,
) -> Any:
    """A grid of images as one picture; `ticks` label columns and rows (a manifold's latent
    values), `row_labels` name each row (what it shows, or a conditional model's classes),
    `column_titles` each column (above it)."""
    plt = pyplot()
    pad = 2
    picture = grid(np.asarray(images, dtype=np.float32), ncols, pad=pad)
    nrows = math.ceil(len(images) / ncols)
    h, w = images.shape[-2:]
    inches = min(10.0, max(4.0, tile_inches * ncols * max(w, 16) / 28))
    height = inches * picture.shape[1] / picture.shape[2]
    fig, ax = plt.subplots(figsize=(inches + 1.8, height + 1.0), dpi=110)
    show(ax, picture)
    col_centres = [pad + c * (w + pad) + w / 2 for c in range(ncols)]
    row_centres = [pad + r * (h + pad) + h / 2 for r in range(nrows)]
    if ticks is not None:
        ax.set_xticks(col_centres, list(ticks[0]), fontsize=7, rotation=90)
        ax.set_yticks(row_centres, list(ticks[1]), fontsize=7)
    else:
        ax.set_xticks([])
        ax.set_yticks([])
    if row_labels is not None:
        ax.set_yticks(row_centres[: len(row_labels)], list(row_labels), fontsize=9)
        ax.tick_params(axis="y", length=0)
    if column_titles is not None:
        ax.xaxis.tick_top()
        ax.set_xticks(col_centres[: len(column_titles)], list(column_titles), fontsize=8)
        ax.tick_params(axis="x", length=0)
    if axis_labels is not None:
        ax.set_xlabel(axis_labels[0])
        ax.set_ylabel(axis_labels[1])
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig


def scatter(
    points: np.ndarray,
    labels: np.ndarray | None,
    classes: Sequence[str] | None,
    title: str,
    axis_labels: tuple[str, str],
) -> Any:
    """The codes of a split as points coloured by class (the same figure as `latent-plot`)."""
    from aekit.reports.plots import scatter_figure

    pyplot()
    return scatter_figure(
        points, labels, None if classes is None else tuple(classes), title, axis_labels
    )
