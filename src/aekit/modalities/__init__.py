"""Modalities: what a kind of data (images; token sequences next) brings to the core."""
