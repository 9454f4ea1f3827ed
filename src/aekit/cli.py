"""The `aekit` command line: thin commands over the library.

Every user error is an AekitError, printed by `main` as one line on stderr with exit status 2.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from aekit.errors import AekitError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Train and use autoencoders on your own images.",
)

RunDir = Annotated[Path, typer.Argument(help="A run directory written by `aekit train`.")]
Split = Annotated[str, typer.Option(help="test, val or train.")]
OtherData = Annotated[str | None, typer.Option("--data", help="Dataset (default: the run's).")]
DataDir = Annotated[
    Path | None, typer.Option("--data-dir", help="Look here first for dataset files.")
]


@app.command()
def datasets(data_dir: DataDir = None) -> None:
    """List every known dataset, where it was found, or how to get it."""
    from aekit.data import list_datasets

    for info in list_datasets(data_dir):
        where = f"found: {info.found}" if info.found else f"missing: {info.how_to_get}"
        typer.echo(f"{info.name:<15} {info.description}\n{'':<15} {where}")


@app.command()
def models() -> None:
    """List registered models, one line each."""
    from aekit.models import DESCRIPTIONS, MODELS

    for name in MODELS:
        typer.echo(f"{name:<10} {DESCRIPTIONS[name]}")


@app.command()
def train(
    model: Annotated[str | None, typer.Argument(help="Model name (see `aekit models`).")] = None,
    out: Annotated[Path, typer.Option("--out", help="Run directory to create.")] = Path("runs/run"),
    data: Annotated[str | None, typer.Option(help="Dataset name, folder:PATH or a .npz.")] = None,
    data_dir: DataDir = None,
    latent_dim: Annotated[int | None, typer.Option(help="Code size (model.latent_dim).")] = None,
    arch: Annotated[str | None, typer.Option(help="Architecture preset (model.arch).")] = None,
    beta: Annotated[float | None, typer.Option(help="Variational models: KL weight.")] = None,
    preset: Annotated[
        str | None, typer.Option(help="Named settings, e.g. `vae --preset lesson`.")
    ] = None,
    epochs: Annotated[int | None, typer.Option(help="train.epochs")] = None,
    batch_size: Annotated[int | None, typer.Option(help="train.batch_size")] = None,
    lr: Annotated[float | None, typer.Option(help="train.lr")] = None,
    precision: Annotated[str | None, typer.Option(help="auto, fp32 or bf16.")] = None,
    limit: Annotated[int | None, typer.Option(help="Use at most N training images.")] = None,
    seed: Annotated[int | None, typer.Option(help="train.seed")] = None,
    task: Annotated[str | None, typer.Option(help="identity, denoise or superres.")] = None,
    noise: Annotated[
        str | None, typer.Option(help="denoise: gaussian:STD, lesson:STD, salt-pepper:P, mask:P")
    ] = None,
    scale: Annotated[int | None, typer.Option(help="superres: 2 or 4.")] = None,
    binarize: Annotated[
        bool | None,
        typer.Option(help="Dynamically binarize images (Bernoulli decoders' literature NLLs)."),
    ] = None,
    config: Annotated[
        Path | None, typer.Option("--config", help="A JSON or TOML file of settings.")
    ] = None,
    overrides: Annotated[
        list[str] | None, typer.Option("--set", help="key=value, e.g. train.lr=1e-3; repeatable.")
    ] = None,
    resume: Annotated[bool, typer.Option(help="Continue the run in --out.")] = False,
    dry_run: Annotated[
        bool, typer.Option(help="Load data, build the model, print the plan; train nothing.")
    ] = False,
    progress: Annotated[bool, typer.Option(help="Show progress bars.")] = True,
    threads: Annotated[
        str | None,
        typer.Option(
            help="torch threads: N, or auto (the cores other jobs leave free). A different "
            "count can change float rounding, so resume with the same one."
        ),
    ] = None,
) -> None:
    """Train a model and write a run directory (config, weights, checkpoint, metrics)."""
    from aekit.runs import train_run

    flags = {
        "data.name": data, "data.data_dir": None if data_dir is None else str(data_dir),
        "model.latent_dim": latent_dim, "model.arch": arch, "model.beta": beta,
        "train.epochs": epochs,
        "train.batch_size": batch_size, "train.lr": lr, "train.precision": precision,
        "data.limit": limit, "train.seed": seed, "task.name": task, "task.noise": noise,
        "task.scale": scale, "model.scale": scale, "task.binarize": binarize,
    }  # fmt: skip
    given = {k: v for k, v in flags.items() if v is not None}
    if resume:
        if model is not None or given or config is not None or overrides or preset:
            raise AekitError(
                "--resume continues a run exactly as it was configured; give only --out "
                "(and progress flags)"
            )
        run_config = None
    else:
        if model is None:
            raise AekitError("name a model to train, e.g. `aekit train conv-ae` (see aekit models)")
        run_config = build_run_config(model, config, given, overrides or [], preset)
    set_threads(threads)
    if dry_run:
        describe_plan(run_config, out)
        return
    result = train_run(run_config, out, resume=resume, progress=progress)
    if result.interrupted:
        typer.echo(
            f"interrupted: checkpoint saved; continue with: aekit train --resume --out {out}"
        )
        raise typer.Exit(130)
    best = (
        "" if result.best_val_loss is None else f", best validation loss {result.best_val_loss:.4g}"
    )
    early = " (stopped early)" if result.stopped_early else ""
    typer.echo(
        f"trained {len(result.history)} epochs{early}{best}, precision {result.precision}; "
        f"run saved in {out}\nevaluate it with: aekit eval {out}"
    )


def set_threads(threads: str | None) -> None:
    """Apply --threads; without it, keep torch's default (every core) but say when the machine
    is busy, because two threads on two shared cores can run many times slower than one."""
    import os

    import torch

    from aekit.training.precision import choose_threads

    if threads is None:
        cores = torch.get_num_threads()
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
        if cores > 1 and load > cores - 0.5 and sys.stderr.isatty():  # a hint for people
            typer.echo(
                f"note: the CPU is busy (load {load:.1f} on {cores} cores); --threads auto "
                "is often several times faster then",
                err=True,
            )
        return
    if threads == "auto":
        count, why = choose_threads()
    else:
        try:
            count, why = choose_threads(int(threads))
        except ValueError:
            raise AekitError(f"--threads takes a number or auto, got {threads!r}") from None
    torch.set_num_threads(count)
    typer.echo(f"training with {count} torch thread{'s' * (count > 1)} ({why})", err=True)


def build_run_config(
    model: str,
    config_file: Path | None,
    flags: dict,
    overrides: list[str],
    preset_name: str | None = None,
):
    """Defaults, then the preset, then the config file, then explicit flags, then --set: later
    wins."""
    from aekit.config import (
        RunConfig,
        apply_overrides,
        deep_merge,
        from_dict,
        load_config_file,
        to_dict,
    )
    from aekit.runs import default_run_config

    base = to_dict(default_run_config(model))
    if preset_name is not None:
        from aekit.models import preset

        settings = [f"{k}={json.dumps(v)}" for k, v in preset(model, preset_name).items()]
        base = apply_overrides(base, settings)
    if config_file is not None:
        from_file = load_config_file(config_file)
        if from_file.get("model_name", model) != model:
            raise AekitError(
                f"{config_file} is for model {from_file['model_name']!r}, not {model!r}"
            )
        base = deep_merge(base, from_file)
    if "model.scale" in flags and "scale" not in base["model"]:
        flags = {k: v for k, v in flags.items() if k != "model.scale"}  # only the task's scale
    for key in flags:
        section, name = key.split(".")
        if name not in base[section]:
            raise AekitError(
                f"model {model!r} has no option {name!r} (from --{name.replace('_', '-')})"
            )
    settings = [f"{k}={json.dumps(v)}" for k, v in flags.items()]
    return from_dict(RunConfig, apply_overrides(base, settings + overrides), where="run")


def describe_plan(run_config, out: Path) -> None:
    from aekit.config import to_dict
    from aekit.runs import build_for_data, class_count, load_data

    dataset = load_data(run_config)
    model, _ = build_for_data(run_config, dataset.image_shape, class_count(dataset))
    params = sum(p.numel() for p in model.parameters())
    typer.echo(json.dumps(to_dict(run_config), indent=2))
    typer.echo(
        f"dry run: {run_config.model_name} with {params:,} parameters, code dimension "
        f"{model.code_dim}; {dataset.name} train/val/test = {len(dataset.train)}/"
        f"{len(dataset.val)}/{len(dataset.test)} images of shape {dataset.image_shape}; "
        f"would write {out}"
    )


@app.command(name="eval")
def evaluate(
    run: RunDir,
    data: OtherData = None,
    data_dir: DataDir = None,
    split: Split = "test",
    limit: Annotated[int | None, typer.Option(help="Score at most N images.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for machines.")] = False,
    nll_samples: Annotated[
        int, typer.Option(help="Variational models: importance-sampled NLL with K draws (0: off).")
    ] = 0,
) -> None:
    """Test metrics of a run beside its classical baselines (PCA, filters, bicubic)."""
    from aekit.data.pairs import build_task
    from aekit.evaluation.evaluate import evaluate_model, evaluate_on
    from aekit.runs import load_data
    from aekit.training.checkpoint import load_run

    if split not in ("test", "val", "train"):
        raise AekitError(f"--split must be test, val or train, got {split!r}")
    loaded = load_run(run)
    changes: dict[str, Any] = {}
    if data is not None:
        changes["name"] = data
    if data_dir is not None:
        changes["data_dir"] = str(data_dir)
    dataset = load_data(loaded.config, **changes)
    task = build_task(loaded.config.task)
    report = evaluate_on(loaded.model, loaded.config.model_name, dataset, split, task, limit=limit)
    if nll_samples:
        from aekit.evaluation.likelihood import importance_nll

        images = getattr(dataset, split).images[:limit]
        labels = getattr(dataset, split).labels
        labels = None if labels is None else labels[:limit]
        report.likelihood = importance_nll(loaded.model, images, nll_samples, labels=labels)
    if dataset.name != loaded.config.data.name and loaded.config.data.name:
        own = load_data(loaded.config)  # the drop is measured on the same split of its own data
        own_split = getattr(own, split)
        own_labels = None if own_split.labels is None else own_split.labels[:limit]
        report.own_dataset = own.name
        report.own_metrics, _ = evaluate_model(
            loaded.model, own_split.images[:limit], task, labels=own_labels
        )
    typer.echo(json.dumps(report.to_dict(), indent=2) if as_json else report.table())


# The image and latent-space commands live in their own modules; importing them registers them.
from aekit import cli_images, cli_latent, cli_report, cli_serve  # noqa: E402, F401


def main() -> None:
    """Entry point. Typer reports its own usage errors (exit 2) and exits with a command's
    typer.Exit code; an AekitError from the library becomes one line and exit status 2."""
    try:
        app()
    except AekitError as exc:
        typer.echo(f"aekit: error: {exc}", err=True)
        sys.exit(AekitError.exit_code)
