from __future__ import annotations

import pytest
import torch

from aekit.errors import AekitError
from aekit.latent.generation import interpolate_codes, manifold_codes


@pytest.mark.parametrize("spherical", [False, True])
def test_interpolation_starts_and_ends_at_the_codes(spherical):
    a, b = torch.randn(1, 4), torch.randn(1, 4)
    path = interpolate_codes(a, b, 5, spherical)
    assert path.shape == (5, 4)
    torch.testing.assert_close(path[0:1], a)
    torch.testing.assert_close(path[-1:], b)


def test_linear_midpoint_and_slerp_keeps_the_norm_of_equal_norm_codes():
    a, b = torch.tensor([[3.0, 0.0]]), torch.tensor([[0.0, 3.0]])
    torch.testing.assert_close(interpolate_codes(a, b, 3, False)[1], torch.tensor([1.5, 1.5]))
    norms = interpolate_codes(a, b, 7, True).norm(dim=1)
    torch.testing.assert_close(norms, torch.full((7,), 3.0))  # a straight line would dip to 2.12


def test_manifold_grid_follows_gaussian_quantiles_and_keeps_the_base():
    base = torch.tensor([[0.0, 0.0, 7.0]])
    codes = manifold_codes(3, 3, (0, 1), base).view(3, 3, 3)
    q = float(torch.distributions.Normal(0, 1).icdf(torch.tensor(0.95)))
    torch.testing.assert_close(codes[0, :, 0], torch.tensor([-q, 0.0, q]))  # across: dim 0
    torch.testing.assert_close(codes[:, 0, 1], torch.tensor([q, 0.0, -q]))  # down: dim 1, top big
    assert torch.all(codes[:, :, 2] == 7.0)
    with pytest.raises(AekitError, match="two different latent dimensions"):
        manifold_codes(3, 3, (1, 1))
    with pytest.raises(AekitError, match="--steps must be at least 2"):
        interpolate_codes(base, base, 1, False)
