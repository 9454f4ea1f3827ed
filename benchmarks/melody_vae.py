"""The melody VAE against issue 11's targets, beside every baseline, in one run.

For each trained run given (default runs/mel, made by the command printed when it is missing),
on the held-out tunes of its split:

- reconstruction: token accuracy and onset F1, teacher-forced and free-running (greedy from the
  posterior mean), on all test windows and the unseen ones, beside majority token, n-gram,
  repeat bar 1 and nearest training window;
- the code: KL (nats) and active units;
- prior samples: in-key ratio, pitch-class entropy, mean |interval|, off-beat share, beside the
  test windows and n-gram samples;
- interpolation: Spearman(step, Hamming to start) and the n-gram NLL at the midpoint, slerp of
  posterior means beside token mixing;

then a table of each target, where the run landed, and whether it is met. Writes
benchmarks/results/melody_vae.json (figures only: never data derived from the corpus).

    python benchmarks/melody_vae.py [RUN ...] [--samples 1000] [--pairs 200] [--steps 7]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch
from common import print_table, write_json

from aekit.config import to_dict
from aekit.modalities import get_modality
from aekit.modalities.melody.evaluation import evaluate_melodies
from aekit.runs import open_run

TRAIN = "aekit train melody-vae --data folk-melodies --preset cpu --threads 1 --out {run}"


def targets(e: dict, nearest: str) -> list[tuple[str, str, float, bool]]:
    """(what, target, value, met) for each of issue 11's targets."""
    rec, samples, interp = e["reconstruction"], e["samples"], e["interpolation"]
    free = rec["model, free running"]["accuracy_all"]
    forced = rec["model, teacher forced"]["accuracy_all"]
    prior, test = samples["model prior"], samples[f"{e['split']} windows"]
    off = abs(prior["off_beat"] - test["off_beat"])
    latent, mixing = interp["latent (slerp of means)"], interp["token mixing"]
    near = rec[nearest]["accuracy_all"]
    return [
        ("free-running accuracy", ">= 0.90", free, free >= 0.90),
        ("teacher-forced accuracy", ">= 0.95", forced, forced >= 0.95),
        (f"free running above {nearest} ({near:.3f})", "> baseline", free, free > near),
        ("prior samples in key", ">= 0.97", prior["in_key"], prior["in_key"] >= 0.97),
        ("|off-beat share - test's|", "<= 0.05", off, off <= 0.05),
        ("interpolation Spearman", ">= 0.9", latent["spearman"], latent["spearman"] >= 0.9),
        (f"midpoint NLL (token mixing {mixing['midpoint_nll']:.3f})", "< token mixing",
         latent["midpoint_nll"], latent["midpoint_nll"] < mixing["midpoint_nll"]),
    ]  # fmt: skip


def training_seconds(run: Path) -> float:
    lines = (run / "metrics.jsonl").read_text().splitlines()
    return sum(json.loads(line).get("seconds", 0.0) for line in lines if line.strip())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="*", type=Path, default=[Path("runs/mel")])
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--pairs", type=int, default=200)
    parser.add_argument("--steps", type=int, default=7)
    parser.add_argument("--temperature", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    missing = [r for r in args.runs if not (r / "model.safetensors").is_file()]
    if missing:
        for run in missing:
            print(f"no trained run at {run}; make it with:\n  {TRAIN.format(run=run)}")
        sys.exit(2)

    results = {}
    for run in args.runs:
        opened = open_run(run)
        model, config, dataset = opened.run.model, opened.run.config, opened.dataset
        modality = get_modality(config.modality)
        started = time.perf_counter()
        fitted, _ = modality.baselines(model, dataset, None)
        tokens = dataset.test.rows
        x = torch.from_numpy(tokens).long()
        predicted = {name: b(x).numpy() for name, b in fitted.items()}
        e = evaluate_melodies(
            model, tokens, dataset.train.rows, baselines=predicted, samples=args.samples,
            pairs=args.pairs, steps=args.steps, temperature=args.temperature, seed=args.seed,
        ).to_dict()  # fmt: skip
        seconds = time.perf_counter() - started
        epochs = len((run / "metrics.jsonl").read_text().splitlines())
        trained = training_seconds(run)
        print(f"== {run}: {config.model_name}, {epochs} epochs in {trained / 60:.1f} min "
              f"(evaluated in {seconds:.0f} s)")  # fmt: skip
        print("model:", json.dumps(config.model, sort_keys=True))
        rec = e["reconstruction"]
        print_table(
            ["", "acc (all)", "acc (unseen)", "onset F1 (all)", "onset F1 (unseen)"],
            [[name, f"{r['accuracy_all']:.3f}", f"{r['accuracy_unseen']:.3f}",
              f"{r['onset_f1_all']:.3f}", f"{r['onset_f1_unseen']:.3f}"]
             for name, r in rec.items()],
        )  # fmt: skip
        print(f"code: KL {e['kl_nats']:.1f} nats, {e['active_units']} of {e['latent_dim']} "
              "units active")  # fmt: skip
        print()
        print_table(
            ["samples", "in-key", "pc entropy", "|interval|", "off-beat"],
            [[name, f"{s['in_key']:.3f}", f"{s['pc_entropy']:.3f}", f"{s['abs_interval']:.2f}",
              f"{s['off_beat']:.3f}"] for name, s in e["samples"].items()],
        )  # fmt: skip
        print()
        print_table(
            ["interpolation", "Spearman", "midpoint NLL"],
            [[name, f"{i['spearman']:.3f}", f"{i['midpoint_nll']:.3f}"]
             for name, i in e["interpolation"].items()],
        )  # fmt: skip
        print()
        met = targets(e, "nearest training window")
        print_table(
            ["target", "wanted", "landed", "met"],
            [[what, want, f"{value:.3f}", "yes" if ok else "no"] for what, want, value, ok in met],
        )  # fmt: skip
        print()
        results[str(run)] = {
            "command": TRAIN.format(run=run) if config.model == _cpu_model() else None,
            "config": {"model": config.model, "train": to_dict(config.train), "task": config.task},
            "epochs": epochs, "training_minutes": round(trained / 60, 1),
            "eval_seconds": round(seconds, 1), "evaluation": e,
            "targets": [{"what": w, "wanted": t, "landed": v, "met": ok} for w, t, v, ok in met],
        }  # fmt: skip
    path = write_json("melody_vae", {
        "command": "python benchmarks/melody_vae.py " + " ".join(map(str, args.runs)),
        "samples": args.samples, "pairs": args.pairs, "steps": args.steps,
        "temperature": args.temperature, "seed": args.seed, "runs": results,
    })  # fmt: skip
    print(f"wrote {path}")


def _cpu_model() -> dict:
    """The model config the `cpu` preset trains (the defaults)."""
    from dataclasses import asdict

    from aekit.models.melody_vae import MelodyVAEConfig

    return asdict(MelodyVAEConfig())


if __name__ == "__main__":
    main()
