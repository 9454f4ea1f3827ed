"""The 2-D view of a code space, one copy for every picture of it.

`aekit latent-plot`, the report's latent figure and the explorer's pad all show codes on one
plane: the codes as they are when they are 2-D, else the plane of their first two principal
components through their mean (PCA(2), latent/pca.py), whose rows are orthonormal, so a code
lands on the plane at ``(z - mean) @ components.T``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from aekit.latent.pca import PCA


@dataclass(frozen=True)
class Plane:
    """z = mean + u * components[0] + v * components[1]: the plane codes are shown on."""

    mean: np.ndarray  # (D,) float32
    components: np.ndarray  # (2, D) float32, orthonormal rows
    axes: tuple[str, str]  # what u and v are called on a plot
    explained: float | None = None  # share of the code variance the plane shows (PCA only)

    @property
    def principal(self) -> bool:
        """Whether this is a PCA plane (else the first two code numbers themselves)."""
        return self.explained is not None

    def project(self, codes: np.ndarray) -> np.ndarray:
        """Flat codes (N, D) -> their places on the plane (N, 2), float32."""
        return ((codes - self.mean) @ self.components.T).astype(np.float32)

    def describe(self, dim: int) -> str:
        """What a plot of this plane shows, for its title."""
        if self.principal:
            return f"{dim}-D codes, first 2 principal components"
        return f"{dim}-D codes" if dim != 2 else "2-D codes"


def axis_plane(dim: int) -> Plane:
    """The plane of the first two code numbers through 0 (for D = 1 the second axis is 0)."""
    components = np.zeros((2, dim), dtype=np.float32)
    components[0, 0] = 1.0
    if dim > 1:
        components[1, 1] = 1.0
    return Plane(np.zeros(dim, np.float32), components, ("z[0]", "z[1]"))


def fit_plane(codes: np.ndarray) -> Plane:
    """2-D codes (or fewer than 3 of them) as they are; otherwise their PCA(2) plane."""
    n, d = codes.shape
    if d <= 2 or n < 3:
        return axis_plane(d)
    pca = PCA(2).fit(torch.from_numpy(np.asarray(codes, dtype=np.float64)))
    return Plane(
        pca.mean.numpy().astype(np.float32),
        pca.components.numpy().astype(np.float32),
        ("PC 1", "PC 2"),
        pca.explained_variance_ratio,
    )
