"""Melody baselines on folk-melodies: what a melody VAE has to beat, and what its samples face.

Builds (or loads) the folk-melodies cache, splits it by tune, and prints:

- held-out token accuracy of four baselines -- majority token, a 4-gram (teacher forcing: the
  true previous tokens), "repeat bar 1", and the nearest training window (Hamming) -- on all
  test windows and on those that never occur verbatim in training;
- the four sample statistics (in-key ratio, pitch-class entropy, mean |interval|, off-beat
  onsets) of the test set beside those of n-gram samples;
- the token-mixing interpolation baseline: Spearman(step, Hamming to start) and the n-gram NLL
  at the midpoint, over random pairs of test windows, beside the endpoints' own NLL.

Writes benchmarks/results/melody_baselines.json (numbers only: never data derived from Essen).

    python benchmarks/melody_baselines.py [--rebuild] [--seed 0] [--order 4]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from common import print_table, write_json

from aekit.modalities.melody import baselines as B
from aekit.modalities.melody import corpus
from aekit.modalities.melody import metrics as M
from aekit.modalities.melody.dataset import load_melodies


def accuracy_rows(train: np.ndarray, test: np.ndarray, unseen: np.ndarray, order: int):
    """(name, predictions, seconds) for each baseline."""
    out = []
    for name, guess in (
        ("majority token", lambda: B.majority_predict(train, test)),
        (f"{order}-gram (teacher forced)", lambda: B.NGram(order).fit(train).predict(test)),
        ("repeat bar 1", lambda: B.repeat_bar_one(test)),
        ("nearest training window", lambda: B.nearest_window(train, test)),
    ):
        started = time.perf_counter()
        predicted = guess()
        seconds = time.perf_counter() - started
        out.append({
            "baseline": name,
            "accuracy_all": M.token_accuracy(predicted, test),
            "accuracy_unseen": M.token_accuracy(predicted[unseen], test[unseen]),
            "onset_f1_all": M.onset_f1(predicted, test),
            "onset_f1_unseen": M.onset_f1(predicted[unseen], test[unseen]),
            "seconds": round(seconds, 2),
        })  # fmt: skip
    return out


def interpolation_baseline(test: np.ndarray, model: B.NGram, pairs: int, steps: int, seed: int):
    rng = np.random.default_rng(seed)
    rho, mid_nll, end_nll = [], [], []
    for _ in range(pairs):
        i, j = rng.choice(len(test), size=2, replace=False)
        path = B.token_mix(test[i], test[j], steps, rng)
        rho.append(M.interpolation_smoothness(path))
        mid_nll.append(float(model.nll(path[steps // 2][None])[0]))
        end_nll.append(float(model.nll(path[[0, -1]]).mean()))
    return {
        "pairs": pairs,
        "steps": steps,
        "spearman_mean": float(np.nanmean(rho)),
        "midpoint_nll": float(np.mean(mid_nll)),
        "endpoint_nll": float(np.mean(end_nll)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rebuild", action="store_true", help="rebuild the corpus cache")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--order", type=int, default=4)
    parser.add_argument("--samples", type=int, default=4000)
    parser.add_argument("--pairs", type=int, default=200)
    args = parser.parse_args()

    started = time.perf_counter()
    c = corpus.load_corpus(rebuild=args.rebuild)
    load_seconds = time.perf_counter() - started
    data = load_melodies(corpus.NAME, seed=args.seed)
    train, test = data.train.tokens, data.test.tokens
    unseen = data.unseen()
    m = c.manifest
    print(
        f"{corpus.NAME}: {m['kept']} of {m['tunes']} tunes, {m['windows']} windows (built in "
        f"{m['seconds']} s, {m.get('cpu_seconds', '?')} s CPU, by {m['converter']}); train "
        f"{len(train)}, val {len(data.val)}, test {len(test)} windows, {int(unseen.sum())} of "
        "them unseen\n"
    )

    rows = accuracy_rows(train, test, unseen, args.order)
    print_table(
        ["baseline", "acc (all)", "acc (unseen)", "onset F1 (all)", "onset F1 (unseen)", "s"],
        [[r["baseline"], f"{r['accuracy_all']:.3f}", f"{r['accuracy_unseen']:.3f}",
          f"{r['onset_f1_all']:.3f}", f"{r['onset_f1_unseen']:.3f}", r["seconds"]]
         for r in rows],
    )  # fmt: skip

    model = B.NGram(args.order).fit(train)
    samples = model.sample(args.samples, test.shape[1], np.random.default_rng(args.seed))
    stats = {
        "train": M.sample_statistics(train),
        "test": M.sample_statistics(test),
        f"{args.order}-gram samples": M.sample_statistics(samples),
    }
    nll = {
        "test": float(model.nll(test).mean()),
        "test_unseen": float(model.nll(test[unseen]).mean()),
        "samples": float(model.nll(samples).mean()),
    }
    print()
    print_table(
        ["data", "in-key", "pc entropy (bits)", "|interval|", "off-beat", "n-gram NLL"],
        [[name, f"{s['in_key']:.3f}", f"{s['pc_entropy']:.3f}", f"{s['abs_interval']:.2f}",
          f"{s['off_beat']:.3f}",
          f"{nll['test']:.3f}" if name == "test" else
          f"{nll['samples']:.3f}" if name.endswith("samples") else ""]
         for name, s in stats.items()],
    )  # fmt: skip

    interp = interpolation_baseline(test, model, args.pairs, 9, args.seed)
    print(
        f"\ntoken mixing over {interp['pairs']} test pairs, {interp['steps']} steps: "
        f"Spearman(step, Hamming to start) {interp['spearman_mean']:.3f}; n-gram NLL at the "
        f"midpoint {interp['midpoint_nll']:.3f} nats/step vs {interp['endpoint_nll']:.3f} at "
        "the endpoints"
    )

    path = write_json("melody_baselines", {
        "corpus": {k: m.get(k) for k in ("tunes", "kept", "windows", "seconds", "cpu_seconds",
                                         "converter", "music21", "changed", "collections")},
        "load_seconds": round(load_seconds, 1),
        "seed": args.seed,
        "split": {"train": len(train), "val": len(data.val), "test": len(test),
                  "test_unseen": int(unseen.sum())},
        "skipped": {reason: v["count"] for reason, v in m["skipped"].items()},
        "baselines": rows,
        "ngram": {"order": args.order, "nll_nats_per_step": nll},
        "statistics": stats,
        "interpolation_token_mix": interp,
    })  # fmt: skip
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
