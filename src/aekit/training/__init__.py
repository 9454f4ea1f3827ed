"""Model-agnostic training: `Trainer` (trainer.py), run directories (checkpoint.py)."""
