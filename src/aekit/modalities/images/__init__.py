"""The image modality: data sources, tasks, metrics, classical baselines."""
