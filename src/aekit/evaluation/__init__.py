"""Metrics (per image, then averaged), classical baselines, and the evaluation of a run."""
