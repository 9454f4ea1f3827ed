"""The importance-sampled NLL against an exact marginal likelihood computed by quadrature."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from aekit.errors import AekitError
from aekit.latent.likelihood import importance_nll
from aekit.models import build_model


@torch.no_grad()
def exact_nll(model, x_binary: torch.Tensor) -> float:
    """-log p(x) = -log integral p(x|z) p(z) dz for a 1-D latent, on a fine grid."""
    z = torch.linspace(-10, 10, 20001)[:, None]
    dz = float(z[1] - z[0])
    logits = model.decode_logits(z).float()  # (G, C, H, W)
    log_px_z = (
        -F.binary_cross_entropy_with_logits(logits, x_binary.expand_as(logits), reduction="none")
        .flatten(1)
        .sum(1)
    )
    log_pz = -0.5 * (math.log(2 * math.pi) + z[:, 0] ** 2)
    return float(-(torch.logsumexp(log_px_z + log_pz, 0) + math.log(dz)))


def test_importance_sampling_converges_to_the_exact_likelihood():
    torch.manual_seed(0)
    model = build_model("vae", image_shape=[1, 2, 2], latent_dim=1, hidden=[8]).eval()
    image = np.array([[[[255, 0], [255, 255]]]], dtype=np.uint8)  # binary: binarizing is exact
    exact = exact_nll(model, torch.tensor(image / 255.0, dtype=torch.float32))
    few = importance_nll(model, image, k=1)
    many = importance_nll(model, image, k=4000)
    assert many["nll"] == pytest.approx(exact, abs=0.02)
    assert few["nll"] == pytest.approx(few["neg_elbo"])  # one sample: the bound itself
    assert many["neg_elbo"] >= exact - 0.02  # the ELBO never beats the true likelihood


def test_refusals():
    images = np.zeros((2, 1, 8, 8), np.uint8)
    with pytest.raises(AekitError, match="posterior"):
        importance_nll(build_model("conv-ae", image_shape=[1, 8, 8]), images)
    with pytest.raises(AekitError, match="AAE has none"):  # a prior, but no q(z|x)
        importance_nll(build_model("aae", image_shape=[1, 8, 8]), images)
    mse = build_model("vae", image_shape=[1, 8, 8], loss="mse")
    with pytest.raises(AekitError, match="Bernoulli decoder"):
        importance_nll(mse, images)
    with pytest.raises(AekitError, match=">= 1"):
        importance_nll(build_model("vae", image_shape=[1, 8, 8]), images, k=0)
