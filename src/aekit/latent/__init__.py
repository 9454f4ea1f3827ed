"""Latent-space tools, one copy each: PCA, code Gaussians, interpolation, likelihoods."""
