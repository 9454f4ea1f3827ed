from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from aekit.errors import AekitError
from aekit.models.losses import reconstruction_loss


def test_bce_matches_torch():
    p, t = torch.rand(4, 1, 5, 5).clamp(0.01, 0.99), torch.rand(4, 1, 5, 5)
    expected = F.binary_cross_entropy(p, t, reduction="none").flatten(1).sum(1)
    torch.testing.assert_close(reconstruction_loss(p, t, "bce"), expected)


def test_bce_from_logits_equals_bce_from_probabilities():
    logits, t = 3 * torch.randn(4, 1, 5, 5), torch.rand(4, 1, 5, 5)
    from_logits = reconstruction_loss(torch.sigmoid(logits), t, "bce", logits)
    from_probs = reconstruction_loss(torch.sigmoid(logits), t, "bce")
    torch.testing.assert_close(from_logits, from_probs, rtol=1e-4, atol=1e-4)


def test_saturated_outputs_keep_finite_gradients():
    """A bf16 sigmoid rounds to exactly 0 or 1; neither path may give inf or NaN gradients,
    and from logits the gradient of a saturated, wrong pixel stays large."""
    logits = torch.tensor([[[[12.0, -200.0]]]], requires_grad=True)
    target = torch.tensor([[[[0.0, 1.0]]]])
    recon = torch.sigmoid(logits.bfloat16()).float()
    assert recon.detach().tolist() == [[[[1.0, 0.0]]]]
    reconstruction_loss(recon, target, "bce").sum().backward()
    assert torch.isfinite(logits.grad).all()
    logits.grad = None
    reconstruction_loss(recon, target, "bce", logits).sum().backward()
    torch.testing.assert_close(logits.grad.abs(), torch.ones(1, 1, 1, 2), atol=1e-4, rtol=0)


def test_mse_is_summed_over_pixels():
    p, t = torch.full((2, 3, 4, 4), 0.5), torch.zeros(2, 3, 4, 4)
    torch.testing.assert_close(reconstruction_loss(p, t, "mse"), torch.full((2,), 0.25 * 48))


def test_nan_output_gives_nan_loss_not_a_crash():
    p = torch.full((1, 1, 2, 2), float("nan"))
    assert torch.isnan(reconstruction_loss(p, torch.zeros_like(p), "bce")).all()


def test_bf16_output_is_scored_in_fp32():
    p, t = torch.rand(2, 1, 28, 28), torch.rand(2, 1, 28, 28)
    loss = reconstruction_loss(p.bfloat16(), t, "mse")
    assert loss.dtype == torch.float32


def test_unknown_loss():
    with pytest.raises(AekitError, match="unknown reconstruction loss"):
        reconstruction_loss(torch.zeros(1, 1), torch.zeros(1, 1), "l1")
