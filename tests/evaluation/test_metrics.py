from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from skimage.metrics import structural_similarity
from sklearn.decomposition import PCA as SkPCA

from aekit.latent.pca import PCA
from aekit.modalities.images.metrics import MetricMeans, bce, image_metrics, mse, psnr, ssim
from tests.conftest import shapes_images


def skimage_ssim(a: np.ndarray, b: np.ndarray) -> float:
    """Reference SSIM for one (C, H, W) image pair, Wang et al. settings."""
    return structural_similarity(
        a, b, data_range=1.0, channel_axis=0, gaussian_weights=True, sigma=1.5,
        use_sample_covariance=False,
    )  # fmt: skip


@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 32, 32), (1, 16, 16)])
def test_ssim_matches_scikit_image(shape):
    rng = np.random.default_rng(0)
    clean = shapes_images(4, size=shape[1], channels=shape[0])[0] / 255.0
    noisy = np.clip(clean + rng.normal(0, 0.1, clean.shape), 0, 1)
    ours = ssim(torch.tensor(noisy), torch.tensor(clean)).numpy()
    theirs = [skimage_ssim(noisy[i], clean[i]) for i in range(4)]
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)


def test_ssim_of_identical_images_is_one_and_drops_with_noise():
    x = torch.rand(3, 1, 12, 12)
    torch.testing.assert_close(ssim(x, x), torch.ones(3))
    assert (ssim((x + 0.2 * torch.randn_like(x)).clamp(0, 1), x) < 0.95).all()


def test_small_images_use_a_smaller_window():
    x = torch.rand(2, 1, 8, 8)
    value = ssim((x + 0.05).clamp(0, 1), x)
    assert torch.isfinite(value).all() and (value < 1).all()


def test_pixel_metrics_known_values():
    target = torch.zeros(2, 1, 4, 4)
    recon = torch.full((2, 1, 4, 4), 0.1)
    torch.testing.assert_close(mse(recon, target), torch.full((2,), 0.01))
    torch.testing.assert_close(psnr(recon, target), torch.full((2,), 20.0))
    torch.testing.assert_close(bce(recon, target), torch.full((2,), -math.log(0.9)))
    assert float(psnr(target, target)[0]) == pytest.approx(100.0)  # capped, not inf


def test_means_are_per_image_averages_over_batches():
    means = MetricMeans()
    a, b = torch.rand(3, 1, 8, 8), torch.rand(5, 1, 8, 8)
    means.add(image_metrics(a, torch.zeros_like(a)))
    means.add(image_metrics(b, torch.zeros_like(b)))
    expected = float(torch.cat([mse(a, 0 * a), mse(b, 0 * b)]).mean())
    assert means.means()["mse"] == pytest.approx(expected)
    assert means.count == 8


def test_pca_matches_scikit_learn():
    images = shapes_images(300, size=12)[0]
    ours = PCA(5).fit(images)
    flat = images.reshape(300, -1) / 255.0
    theirs = SkPCA(5, svd_solver="full").fit(flat)
    unclipped = (ours.encode(images) @ ours.components + ours.mean).numpy()
    np.testing.assert_allclose(
        unclipped, theirs.inverse_transform(theirs.transform(flat)), atol=1e-8
    )
    assert ours.explained_variance_ratio == pytest.approx(theirs.explained_variance_ratio_.sum())


def test_pca_with_every_component_is_exact_and_fewer_is_lossy():
    images = shapes_images(100, size=6)[0]
    full = PCA(36).fit(images).reconstruct(images)
    torch.testing.assert_close(
        full, torch.tensor(images / 255.0, dtype=torch.float32), atol=1e-5, rtol=0
    )
    few = PCA(2).fit(images).reconstruct(images)
    assert float(mse(few, torch.tensor(images / 255.0, dtype=torch.float32)).mean()) > 1e-3
