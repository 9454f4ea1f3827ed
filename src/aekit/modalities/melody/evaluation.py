"""What `aekit eval` measures of a melody model beyond per-window token accuracy.

Issue 11's table, on one split (held-out tunes), every figure beside its baseline:

- **Reconstruction.** Token accuracy and note-onset F1, teacher-forced (the decoder is fed the
  true previous tokens: what the training loss sees) and free-running (greedy decoding from the
  posterior mean, each step fed the previous output: what "reconstruction" means to a user),
  on all windows and on the *unseen* ones (those that occur nowhere in training: a folk corpus
  repeats cadences, and a model that memorised them scores well on the rest for free). Beside
  the modality's baselines (majority token, n-gram, repeat bar 1, nearest training window).
- **The code.** KL(q(z|x) || N(0, I)) in nats per window and the active units (Burda et al.
  2016, https://arxiv.org/abs/1509.00519: dimensions whose posterior mean varies over the data,
  Var_x E[z_u | x] > 0.01): a collapsed code has KL near 0 and no active units.
- **Prior samples.** In-key ratio, pitch-class entropy, mean |interval|, off-beat onset share
  of melodies decoded from z ~ N(0, I), beside the split's own windows and the n-gram's samples.
- **Interpolation.** Between random pairs of windows: Spearman(step, Hamming distance to the
  first melody) along the path (1: every step moves further away) and the n-gram NLL of the
  midpoint (lower: more melody-like), beside token-by-token mixing of the two melodies.

Every draw is seeded, so the same run and seed print the same table.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch

from aekit.modalities.melody import baselines as B
from aekit.modalities.melody import metrics as M
from aekit.modalities.melody.dataset import unseen_mask
from aekit.modalities.melody.inference import greedy_decode

ACTIVE_THRESHOLD = 0.01  # Burda et al.'s covariance threshold for an active unit


@dataclass
class MelodyEvaluation:
    split: str
    windows: int
    unseen: int
    latent_dim: int
    # name -> {accuracy_all, accuracy_unseen, onset_f1_all, onset_f1_unseen}
    reconstruction: dict[str, dict[str, float]]
    kl_nats: float  # mean over windows, whole code
    active_units: int
    samples: dict[str, dict[str, float]]  # name -> the four sample statistics
    sample_count: int
    temperature: float
    interpolation: dict[str, dict[str, float]]  # name -> {spearman, midpoint_nll}
    pairs: int
    steps: int
    endpoint_nll: float  # the n-gram NLL of the pairs' own windows, for scale
    ngram_order: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def table(self) -> str:
        cols = ("accuracy_all", "accuracy_unseen", "onset_f1_all", "onset_f1_unseen")
        heads = ("acc all", "acc unseen", "onset F1", "F1 unseen")
        width = max(len(n) for n in self.reconstruction) + 2
        lines = [
            f"reconstruction of {self.windows} {self.split} windows ({self.unseen} never seen in "
            "training); free running = greedy decoding from the posterior mean",
            "".ljust(width) + "".join(h.rjust(12) for h in heads),
        ]
        for name, row in self.reconstruction.items():
            lines.append(name.ljust(width) + "".join(f"{row[c]:12.3f}" for c in cols))
        lines.append(
            f"code: KL {self.kl_nats:.2f} nats per window, {self.active_units} of "
            f"{self.latent_dim} latent units active (Var_x E[z|x] > {ACTIVE_THRESHOLD})"
        )
        stats = ("in_key", "pc_entropy", "abs_interval", "off_beat")
        heads = ("in key", "pc entropy", "|interval|", "off-beat")
        width = max(len(n) for n in self.samples) + 2
        lines += [
            f"samples ({self.sample_count} each; model: z ~ N(0, I), temperature "
            f"{self.temperature:g})",
            "".ljust(width) + "".join(h.rjust(12) for h in heads),
        ]
        for name, row in self.samples.items():
            lines.append(name.ljust(width) + "".join(f"{row[s]:12.3f}" for s in stats))
        width = max(len(n) for n in self.interpolation) + 2
        lines += [
            f"interpolation ({self.pairs} pairs of {self.split} windows, {self.steps} steps, "
            f"ends included; {self.ngram_order}-gram NLL in nats per step, endpoints "
            f"{self.endpoint_nll:.3f})",
            "".ljust(width) + "spearman".rjust(12) + "mid NLL".rjust(12),
        ]
        for name, row in self.interpolation.items():
            lines.append(name.ljust(width) + f"{row['spearman']:12.3f}{row['midpoint_nll']:12.3f}")
        return "\n".join(lines)


def _batches(n: int, size: int):
    for start in range(0, n, size):
        yield slice(start, start + size)


@torch.no_grad()
def encode_windows(
    model: Any, tokens: np.ndarray, batch_size: int = 512
) -> tuple[torch.Tensor, torch.Tensor]:
    """(N, T) tokens -> posterior means (N, Z) and KL per window (N,), on the CPU."""
    device = model.out.weight.device
    means, kls = [], []
    for part in _batches(len(tokens), batch_size):
        x = torch.from_numpy(np.ascontiguousarray(tokens[part])).long().to(device)
        posterior = model.encode(x)
        means.append(posterior.mean.float().cpu())
        kls.append(posterior.kl().cpu())
    return torch.cat(means), torch.cat(kls)


@torch.no_grad()
def teacher_forced(model: Any, tokens: np.ndarray, batch_size: int = 512) -> np.ndarray:
    """Each step's argmax given the true previous tokens and the posterior mean."""
    device = model.out.weight.device
    out = []
    for part in _batches(len(tokens), batch_size):
        x = torch.from_numpy(np.ascontiguousarray(tokens[part])).long().to(device)
        z = model.encode(x).mean
        out.append(model.teacher_forced(x, z).argmax(-1).cpu())
    return torch.cat(out).numpy().astype(np.uint8)


def nanmean(values: list[float]) -> float:
    """The mean of the defined values (a path that never changes has no Spearman), or NaN."""
    defined = [v for v in values if not np.isnan(v)]
    return float(np.mean(defined)) if defined else float("nan")


def active_units(means: torch.Tensor, threshold: float = ACTIVE_THRESHOLD) -> int:
    """Dimensions whose posterior mean varies over the data by more than `threshold`."""
    if means.shape[0] < 2:
        return 0
    return int((means.double().var(dim=0) > threshold).sum())


def scores(predicted: np.ndarray, target: np.ndarray, unseen: np.ndarray) -> dict[str, float]:
    def f1(p: np.ndarray, t: np.ndarray) -> float:
        return M.onset_f1(p, t) if len(t) else float("nan")

    return {
        "accuracy_all": M.token_accuracy(predicted, target),
        "accuracy_unseen": M.token_accuracy(predicted[unseen], target[unseen]),
        "onset_f1_all": f1(predicted, target),
        "onset_f1_unseen": f1(predicted[unseen], target[unseen]),
    }


def slerp_paths(za: torch.Tensor, zb: torch.Tensor, steps: int) -> torch.Tensor:
    """(P, Z) start and end codes -> (P, steps, Z) spherical interpolations, ends included."""
    from aekit.latent.generation import interpolate_codes

    paths = [interpolate_codes(a[None], b[None], steps, True) for a, b in zip(za, zb, strict=True)]
    return torch.stack(paths).float()


def evaluate_melodies(
    model: Any,
    tokens: np.ndarray,
    train: np.ndarray,
    *,
    split: str = "test",
    baselines: dict[str, np.ndarray] | None = None,
    ngram: B.NGram | None = None,
    samples: int = 1000,
    temperature: float = 1.0,
    pairs: int = 100,
    steps: int = 7,
    seed: int = 0,
    batch_size: int = 512,
) -> MelodyEvaluation:
    """The whole table for `tokens` (N, T) of one split, the model trained on `train`.

    `baselines` maps a name to its predictions for `tokens` (computed by the caller, which
    usually has them already); `ngram` is a fitted n-gram (fitted on `train` when missing).
    """
    model.eval()
    tokens = np.asarray(tokens)
    unseen = unseen_mask(tokens, train)
    ngram = ngram if ngram is not None else B.NGram().fit(train)
    means, kl = encode_windows(model, tokens, batch_size)
    rows = {
        "model, teacher forced": scores(teacher_forced(model, tokens, batch_size), tokens, unseen),
        "model, free running": scores(greedy_decode(model, means), tokens, unseen),
    }
    for name, predicted in (baselines or {}).items():
        rows[name] = scores(np.asarray(predicted), tokens, unseen)

    generator = torch.Generator().manual_seed(seed)
    device = model.out.weight.device
    drawn = []
    for part in _batches(samples, batch_size):
        n = len(range(samples)[part])
        z = torch.randn(n, model.config.latent_dim, generator=generator).to(device)
        u = torch.Generator(device=device).manual_seed(seed + part.start + 1)
        drawn.append(model.generate(z, temperature, u).cpu())
    model_samples = torch.cat(drawn).numpy().astype(np.uint8)
    rng = np.random.default_rng(seed)
    sample_rows = {
        "model prior": M.sample_statistics(model_samples),
        f"{split} windows": M.sample_statistics(tokens),
        f"{ngram.order}-gram samples": M.sample_statistics(
            ngram.sample(samples, tokens.shape[1], rng)
        ),
    }

    pairs = min(pairs, len(tokens) // 2)
    chosen = rng.permutation(len(tokens))[: 2 * pairs].reshape(pairs, 2) if pairs else None
    interpolation: dict[str, dict[str, float]] = {}
    endpoint_nll = float("nan")
    if chosen is not None:
        a, b = tokens[chosen[:, 0]], tokens[chosen[:, 1]]
        paths = slerp_paths(means[chosen[:, 0]], means[chosen[:, 1]], steps)  # (P, S, Z)
        decoded = greedy_decode(model, paths.reshape(pairs * steps, -1))
        decoded = decoded.reshape(pairs, steps, -1)
        mixed = np.stack([B.token_mix(a[i], b[i], steps, rng) for i in range(pairs)])
        mid = steps // 2
        for name, path in (("latent (slerp of means)", decoded), ("token mixing", mixed)):
            interpolation[name] = {
                "spearman": nanmean([M.interpolation_smoothness(p) for p in path]),
                "midpoint_nll": float(ngram.nll(path[:, mid]).mean()),
            }
        endpoint_nll = float(ngram.nll(np.concatenate([a, b])).mean())
    return MelodyEvaluation(
        split=split, windows=len(tokens), unseen=int(unseen.sum()),
        latent_dim=int(model.config.latent_dim), reconstruction=rows,
        kl_nats=float(kl.mean()) if len(kl) else float("nan"),
        active_units=active_units(means), samples=sample_rows, sample_count=samples,
        temperature=float(temperature), interpolation=interpolation, pairs=pairs, steps=steps,
        endpoint_nll=endpoint_nll, ngram_order=ngram.order,
    )  # fmt: skip
