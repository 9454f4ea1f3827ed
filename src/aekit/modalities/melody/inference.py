"""A melody model applied to token windows: posterior means in, greedy free-running decoding out.

What a user means by reconstructing a melody is what the model makes of it on its own: encode
the window, take the posterior *mean* (no sampling noise), and decode step by step, each step fed
the token the decoder itself chose (`decode`: greedy, free-running). The teacher-forced argmax,
where every step is fed the true previous token, is a training metric: it flatters the model,
which never has to continue from its own mistakes.
"""

from __future__ import annotations

import numpy as np
import torch

from aekit.core.posterior import DiagonalGaussian
from aekit.core.random import module_device

BATCH = 512  # windows per forward pass: a long tune is hundreds of windows, a corpus thousands


@torch.no_grad()
def posterior_means(model: torch.nn.Module, rows: np.ndarray) -> torch.Tensor:
    """(N, 32) tokens -> (N, latent_dim) float32 codes on the CPU: the posterior mean (a plain
    encoder's code as it is)."""
    model.eval()
    device = module_device(model)
    tokens = torch.from_numpy(np.asarray(rows)).long()
    codes = []
    for start in range(0, tokens.shape[0], BATCH):
        code = model.encode(tokens[start : start + BATCH].to(device))
        codes.append((code.mode() if isinstance(code, DiagonalGaussian) else code).float().cpu())
    return torch.cat(codes) if codes else torch.zeros(0, model.config.latent_dim)


@torch.no_grad()
def greedy_decode(model: torch.nn.Module, codes: torch.Tensor) -> np.ndarray:
    """(N, latent_dim) codes -> (N, 32) uint8 tokens, greedy and free-running (`model.decode`
    feeds each step the argmax of the step before, so its argmax is the melody it played)."""
    model.eval()
    device = module_device(model)
    out = [
        model.decode(codes[start : start + BATCH].to(device)).argmax(-1).to(torch.uint8).cpu()
        for start in range(0, codes.shape[0], BATCH)
    ]
    return torch.cat(out).numpy() if out else np.zeros((0, model.config.seq_len), np.uint8)


def reconstruct(model: torch.nn.Module, rows: np.ndarray) -> np.ndarray:
    """(N, 32) tokens -> (N, 32) uint8 tokens: greedy free-running decoding of posterior means."""
    return greedy_decode(model, posterior_means(model, rows))
