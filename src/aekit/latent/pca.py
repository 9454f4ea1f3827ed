"""Classical baselines printed beside every learned result.

PCA at the same code dimension is the honest reference for an autoencoder: it is the best
*linear* code of that size, so whatever the network does better is what the nonlinearity bought.
"""

from __future__ import annotations

import numpy as np
import torch

from aekit.errors import AekitError


class PCA:
    """Principal components of flattened images, fitted in float64 via the covariance matrix.

    The d x d covariance route is fast for image sizes up to a few thousand pixels (Fashion-MNIST:
    a 784 x 784 eigenproblem) and needs no sample-count-sized SVD.
    """

    def __init__(self, n_components: int) -> None:
        if n_components < 1:
            raise AekitError(f"PCA needs at least one component, got {n_components}")
        self.n_components = n_components
        self.mean: torch.Tensor | None = None  # (D,)
        self.components: torch.Tensor | None = None  # (k, D), rows orthonormal
        self.explained_variance_ratio: float = 0.0

    def fit(self, images_u8: np.ndarray, chunk: int = 8192) -> PCA:
        n = images_u8.shape[0]
        d = int(np.prod(images_u8.shape[1:]))
        if n < 2:
            raise AekitError(f"PCA needs at least 2 training images, got {n}")
        k = min(self.n_components, d)
        total = torch.zeros(d, dtype=torch.float64)
        gram = torch.zeros(d, d, dtype=torch.float64)
        for start in range(0, n, chunk):  # chunks keep memory at chunk x D, not N x D
            x = flat(images_u8[start : start + chunk])
            total += x.sum(0)
            gram += x.T @ x
        mean = total / n
        cov = (gram - n * torch.outer(mean, mean)) / (n - 1)
        eigenvalues, eigenvectors = torch.linalg.eigh(cov)  # ascending
        order = torch.argsort(eigenvalues, descending=True)[:k]
        self.mean = mean
        self.components = eigenvectors[:, order].T.contiguous()
        spectrum = eigenvalues.clamp_min(0)
        self.explained_variance_ratio = float(
            spectrum[order].sum() / spectrum.sum().clamp_min(1e-12)
        )
        return self

    def encode(self, images: np.ndarray | torch.Tensor) -> torch.Tensor:
        return (flat(images) - self.mean) @ self.components.T  # (N, k)

    def decode(self, codes: torch.Tensor, image_shape: tuple[int, ...]) -> torch.Tensor:
        x = codes.double() @ self.components + self.mean
        return x.clamp(0, 1).float().view(codes.shape[0], *image_shape)  # (N, C, H, W)

    def reconstruct(self, images: np.ndarray | torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(images), tuple(images.shape[1:]))


def flat(images: np.ndarray | torch.Tensor) -> torch.Tensor:
    """uint8 array (N, C, H, W), or a float tensor already in [0, 1] -> float64 (N, C*H*W)."""
    if isinstance(images, torch.Tensor):
        return images.flatten(1).double()
    return torch.from_numpy(np.asarray(images)).flatten(1).double() / 255.0
