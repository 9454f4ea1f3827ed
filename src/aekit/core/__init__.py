"""Ground-level pieces every layer shares: named outputs, the latent Gaussian, model specs."""
