"""The demo (`make demo`, `aekit demo`): four uses of an autoencoder, trained and reported.

A conv autoencoder, a denoiser, an x2 upscaler and a 2-D VAE are trained on Fashion-MNIST with
settings sized to finish, reports included, in a few minutes on 2 CPU cores, each still beating
its classical baseline (PCA, the best tuned filter, bicubic). Each run gets its report.html;
OUT/index.html puts the four headline numbers side by side and links the reports.

The settings are ordinary dotted `--set` keys, so every run can be repeated by hand with
`aekit train` (the index shows how). One overall bar says which run is at which stage and how
long is left; the time left is the plan's per-stage cost estimate (measured on this machine)
scaled by how fast the finished stages actually went.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

from aekit.errors import AekitError


@dataclass(frozen=True)
class DemoRun:
    name: str  # its directory under the demo folder
    what: str  # one line for the index
    model: str
    settings: dict[str, Any] = field(default_factory=dict)  # dotted keys over the defaults
    epoch_cost: float = 10.0  # seconds per epoch on this machine: weights the time-left estimate
    report_cost: float = 10.0  # seconds for its report


# Each beats its baseline with a margin at these settings. The costs are seconds measured by
# `make demo` here (1 thread, other jobs running); only their ratios matter for the estimate.
DEMO_RUNS: tuple[DemoRun, ...] = (
    DemoRun(
        "conv-ae", "compress each image to 16 numbers and back", "conv-ae",
        {"model.latent_dim": 16, "train.epochs": 3}, epoch_cost=36, report_cost=6,
    ),
    DemoRun(
        "denoiser", "remove Gaussian noise (std 0.3)", "conv-ae",
        # the denoise task's own network (what `aekit train --task denoise` picks), named, so
        # the printed command repeats this run; at one noise level, to compare with the lesson
        {"task.name": "denoise", "task.noise": "gaussian:0.3", "model.arch": "unet",
         "model.loss": "mse", "train.epochs": 3, "data.limit": 30000},
        epoch_cost=14, report_cost=15,
    ),
    DemoRun(
        "superres-x2", "upscale 14x14 images to 28x28", "sr",
        {"task.name": "superres", "task.scale": 2, "model.scale": 2, "model.width": 32,
         "train.epochs": 3, "data.limit": 30000}, epoch_cost=8, report_cost=2,
    ),
    DemoRun(
        "vae-2d", "a 2-D latent space to sample new clothes from", "vae",
        {"model.latent_dim": 2, "train.epochs": 10}, epoch_cost=4, report_cost=7,
    ),
)  # fmt: skip


def demo_config(run: DemoRun, data: str, data_dir: str | Path | None):
    """The RunConfig of one demo run: the model's defaults, the run's settings, the data."""
    from aekit.config import RunConfig, apply_overrides, from_dict, to_dict
    from aekit.runs import default_run_config

    settings = {"data.name": data, **run.settings}
    if data_dir is not None:
        settings["data.data_dir"] = str(data_dir)
    base = to_dict(default_run_config(run.model))
    overrides = [f"{k}={json.dumps(v)}" for k, v in settings.items()]
    return from_dict(RunConfig, apply_overrides(base, overrides), where="run")


def command_line(run: DemoRun, data: str, out: Path) -> str:
    """The `aekit train` line that repeats a demo run."""
    sets = " ".join(
        f"--set {k}={v if isinstance(v, str) else json.dumps(v, separators=(',', ':'))}"
        for k, v in run.settings.items()
    )
    return f"aekit train {run.model} --data {data} {sets} --out {out / run.name}"


class Progress:
    """An overall bar in estimated seconds of work, plus one line per stage (also on non-TTY
    output, where the bar is off: logs still say what is happening and how long is left)."""

    def __init__(self, total: float, enabled: bool) -> None:
        self.total = total
        self.done = 0.0
        self.started = time.perf_counter()
        self.enabled = enabled
        show = enabled and sys.stderr.isatty()
        self.bar = tqdm(
            total=round(total), disable=not show, file=sys.stderr, dynamic_ncols=True,
            bar_format="{desc} {percentage:3.0f}%|{bar}| {elapsed} elapsed, about {remaining} left",
        )  # fmt: skip

    def left(self) -> float:
        elapsed = time.perf_counter() - self.started
        rate = self.done / elapsed if self.done > 0 and elapsed > 0 else 1.0
        return (self.total - self.done) / max(rate, 1e-9)

    def stage(self, text: str) -> None:
        self.bar.set_description_str(text)
        if self.enabled:
            elapsed = time.perf_counter() - self.started
            tqdm.write(
                f"{text}  ({clock(elapsed)} elapsed, about {clock(self.left())} left)",
                file=sys.stderr,
            )

    def advance(self, cost: float) -> None:
        self.done = min(self.done + cost, self.total)
        self.bar.update(round(self.done) - self.bar.n)

    def close(self) -> None:
        self.bar.close()


def clock(seconds: float) -> str:
    minutes, secs = divmod(int(round(seconds)), 60)
    return f"{minutes}:{secs:02d}"


def run_demo(
    out: str | Path = "runs/demo",
    *,
    data: str = "fashion-mnist",
    data_dir: str | Path | None = None,
    runs: Sequence[DemoRun] = DEMO_RUNS,
    report_limit: int = 2000,
    progress: bool = True,
) -> Path:
    """Train and report each run into OUT/<name>/, then write OUT/index.html (and
    OUT/summary.json with the headline numbers and times); returns the index's path."""
    from aekit.atomic import write_json_atomic, write_text_atomic
    from aekit.reports.html import render_index
    from aekit.reports.report import build_report
    from aekit.runs import train_run

    out = Path(out)
    taken = [run.name for run in runs if (out / run.name).exists()]
    if taken:
        raise AekitError(
            f"{str(out)!r} already holds demo runs ({', '.join(taken)}); remove them "
            "(`make demo` does) or choose another --out"
        )
    configs = [demo_config(run, data, data_dir) for run in runs]  # all checked before training
    pairs = list(zip(runs, configs, strict=True))
    total = sum(c.train.epochs * r.epoch_cost + r.report_cost for r, c in pairs)
    bar = Progress(total, progress)
    entries = []
    try:
        for i, (run, config) in enumerate(pairs, start=1):
            where = out / run.name
            epochs = config.train.epochs
            bar.stage(f"[{i}/{len(runs)}] {run.name}: training {run.model} for {epochs} epochs")
            started = time.perf_counter()
            result = train_run(
                config, where, progress=progress,
                callbacks=[lambda row, model, c=run.epoch_cost: bar.advance(c)],
            )  # fmt: skip
            if result.interrupted:
                raise AekitError(f"interrupted while training {where}; the demo stopped")
            trained = time.perf_counter() - started
            bar.stage(f"[{i}/{len(runs)}] {run.name}: writing its report")
            report = build_report(where, limit=report_limit)
            bar.advance(run.report_cost)
            entries.append({
                "name": run.name, "what": run.what, "model": run.model,
                "report": f"{run.name}/report.html", "headline": report.headline,
                "train_seconds": trained, "report_seconds": report.seconds,
                "command": command_line(run, data, out), "preview": preview(run.name, report),
            })  # fmt: skip
    finally:
        bar.close()
    elapsed = time.perf_counter() - bar.started
    note = (
        f"{data}: trained and reported in {clock(elapsed)} (minutes:seconds). The headline "
        "metric of each use beside the classical baseline it has to beat; each run's report "
        "has its settings, loss curves, every metric beside every baseline, and pictures."
    )
    index = out / "index.html"
    write_text_atomic(index, render_index("aekit demo: four uses of an autoencoder", entries, note))
    summary = {"seconds": round(elapsed, 1), "runs": [summary_row(e) for e in entries]}
    write_json_atomic(out / "summary.json", summary)
    return index


def preview(name: str, report: Any) -> str | None:
    """The picture the index shows for a run: the VAE's manifold, else inputs and outputs."""
    names = {p.stem: p for p in report.figures}
    chosen = names.get("manifold") or names.get("examples")
    return None if chosen is None else f"{name}/{chosen.parent.name}/{chosen.name}"


def summary_row(entry: dict[str, Any]) -> dict[str, Any]:
    h = entry["headline"]
    row = {k: entry[k] for k in ("name", "model", "report", "command")}
    row.update(train_seconds=round(entry["train_seconds"], 1),
               report_seconds=round(entry["report_seconds"], 1))  # fmt: skip
    if h is not None:
        row["headline"] = {"metric": h.metric, "value": h.value, "baseline": h.baseline,
                           "baseline_value": h.baseline_value, "beats": h.beats}  # fmt: skip
    return row
