"""Seconds per training step of `melody-vae` (forward, loss, backward, AdamW step) on this CPU.

Scheduled sampling costs time: while the decoder is fed only true tokens it runs one LSTM call
per window, once every step has some sampled inputs it runs step by step. So each size is timed
at p(teacher forcing) 1 (the start of training), 0.5 and 0 (the end of an inverse-sigmoid
ramp). Tokens are random: the time does not depend on what they are.

    python benchmarks/melody_vae_step.py [--steps 20] [--batch 128 256 512] [--threads 1]
"""

from __future__ import annotations

import argparse
import time

import torch
from common import median, print_table, write_json

from aekit.models import build_model

SIZES = {  # name: model settings over the defaults (the sizes compared to choose them)
    "default (cpu)": {},
    "enc 256, dec 256x2, z 64": {"enc_hidden": 256, "dec_layers": 2, "latent_dim": 64},
    "dec 256x2": {"dec_layers": 2},
    "dec 384x1": {"dec_hidden": 384},
    "magenta-small": {
        "embed_dim": 90, "enc_hidden": 512, "dec_hidden": 256, "dec_layers": 2,
        "latent_dim": 256, "dropout": 0.0,
    },
}  # fmt: skip


def step_seconds(settings: dict, batch: int, p_teacher: float, steps: int) -> float:
    torch.manual_seed(0)
    model = build_model(
        "melody-vae", settings, sampling_schedule="constant", sampling_rate=1.0 - p_teacher
    ).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    x = torch.randint(0, 90, (batch, 32))
    times = []
    for i in range(steps + 2):  # the first two warm up allocators and caches
        started = time.perf_counter()
        loss = model.loss(model(x), x).loss
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if i >= 2:
            times.append(time.perf_counter() - started)
    return median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--batch", type=int, nargs="+", default=[128, 256, 512])
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--sizes", nargs="+", default=list(SIZES), choices=list(SIZES))
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    rows, results = [], []
    for name in args.sizes:
        params = sum(p.numel() for p in build_model("melody-vae", SIZES[name]).parameters())
        for batch in args.batch:
            row = [name, f"{params:,}", batch]
            for p in (1.0, 0.5, 0.0):
                seconds = step_seconds(SIZES[name], batch, p, args.steps)
                row.append(f"{seconds:.3f}")
                results.append({"size": name, "params": params, "batch": batch,
                                "p_teacher": p, "seconds_per_step": seconds})  # fmt: skip
            rows.append(row)
            print_table(["size", "params", "batch", "s/step p=1", "p=0.5", "p=0"], rows)
    path = write_json("melody_vae_step", {"steps": args.steps, "results": results})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
