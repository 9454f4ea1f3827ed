"""The latent-space helpers that exist once: the plane codes are drawn on, the code Gaussian."""

from __future__ import annotations

import numpy as np
import torch

from aekit.latent.generation import CodeDistribution, sample_codes
from aekit.latent.pca import PCA
from aekit.latent.plane import axis_plane, fit_plane


def test_two_dimensional_codes_are_shown_as_they_are():
    codes = np.random.default_rng(0).normal(size=(50, 2)).astype(np.float32)
    plane = fit_plane(codes)
    assert plane.axes == ("z[0]", "z[1]") and not plane.principal
    assert np.array_equal(plane.project(codes), codes)
    assert plane.describe(2) == "2-D codes"


def test_longer_codes_are_shown_on_their_principal_plane():
    rng = np.random.default_rng(1)
    codes = (rng.normal(size=(200, 5)) * [5.0, 3.0, 0.1, 0.1, 0.1]).astype(np.float32)
    plane = fit_plane(codes)
    assert plane.axes == ("PC 1", "PC 2") and 0.9 < plane.explained <= 1.0
    assert np.allclose(plane.components @ plane.components.T, np.eye(2), atol=1e-5)
    pca = PCA(2).fit(torch.from_numpy(codes.astype(np.float64)))
    expected = pca.encode(torch.from_numpy(codes.astype(np.float64))).numpy()
    assert np.allclose(plane.project(codes), expected, atol=1e-4)
    assert plane.describe(5) == "5-D codes, first 2 principal components"


def test_too_few_codes_or_dimensions_fall_back_to_the_first_code_numbers():
    assert fit_plane(np.ones((2, 6), np.float32)).axes == ("z[0]", "z[1]")
    one = axis_plane(1)
    assert one.project(np.array([[3.0]], np.float32)).tolist() == [[3.0, 0.0]]


def test_the_code_gaussian_turns_standard_draws_into_its_own():
    mean = torch.tensor([1.0, -2.0], dtype=torch.float64)
    cov = torch.tensor([[4.0, 1.0], [1.0, 2.0]], dtype=torch.float64)
    dist = CodeDistribution(mean, cov, (2,))
    assert torch.allclose(dist.from_standard(torch.zeros(1, 2, dtype=torch.float64)), mean.float())
    drawn = dist.from_standard(torch.randn(20000, 2, generator=torch.Generator().manual_seed(0),
                                            dtype=torch.float64))  # fmt: skip
    assert torch.allclose(torch.cov(drawn.double().T), cov, atol=0.15)
    again = sample_codes(dist, 20000, torch.Generator().manual_seed(0))
    assert torch.equal(again, drawn)  # sample_codes draws through the same transform
