from __future__ import annotations

import torch
from torch.distributions import Normal, kl_divergence

from aekit.core.posterior import DiagonalGaussian


def test_kl_matches_torch_distributions():
    torch.manual_seed(0)
    mean, logvar = torch.randn(7, 5), torch.randn(7, 5)
    q = DiagonalGaussian(mean, logvar)
    expected = kl_divergence(Normal(mean, (0.5 * logvar).exp()), Normal(0.0, 1.0)).sum(1)
    torch.testing.assert_close(q.kl(), expected)


def test_logvar_convention_in_sampling():
    """std = exp(logvar / 2): samples with logvar = log 4 have standard deviation 2."""
    q = DiagonalGaussian(
        torch.full((200_000, 1), 3.0), torch.full((200_000, 1), float(torch.log(torch.tensor(4.0))))
    )
    z = q.sample(torch.Generator().manual_seed(0))
    assert abs(float(z.mean()) - 3.0) < 0.02
    assert abs(float(z.std()) - 2.0) < 0.02
    assert torch.equal(q.mode(), q.mean)


def test_sample_is_reparameterised():
    mean = torch.zeros(3, 2, requires_grad=True)
    logvar = torch.zeros(3, 2, requires_grad=True)
    DiagonalGaussian(mean, logvar).sample().sum().backward()
    assert mean.grad is not None and logvar.grad is not None
    assert torch.equal(mean.grad, torch.ones(3, 2))
