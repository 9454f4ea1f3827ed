"""`aekit train`: a run config from defaults, preset, file, flags and --set; then train it."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from aekit.cli.common import DataDir, app
from aekit.errors import AekitError


@app.command()
def train(
    model: Annotated[str | None, typer.Argument(help="Model name (see `aekit models`).")] = None,
    out: Annotated[Path, typer.Option("--out", help="Run directory to create.")] = Path("runs/run"),
    data: Annotated[
        str | None,
        typer.Option(
            help="Dataset name, folder:PATH, a .npz, or shards:DIR (written by `aekit pack`, "
            "for data larger than memory)."
        ),
    ] = None,
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
    image_size: Annotated[
        int | None,
        typer.Option(help="Resize folder images to this square size (data.image_size)."),
    ] = None,
    seed: Annotated[int | None, typer.Option(help="train.seed")] = None,
    task: Annotated[str | None, typer.Option(help="identity, denoise or superres.")] = None,
    noise: Annotated[
        str | None,
        typer.Option(
            help="denoise: gaussian:STD, lesson:STD, salt-pepper:P, mask:P, each a value or a "
            "range LO-HI drawn per image (default gaussian:0.05-0.5), or "
            "poisson-gaussian:PEAK,SIGMA"
        ),
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
    resume: Annotated[
        bool,
        typer.Option(
            help="Continue the run in --out. Give --out alone, or the run's whole command "
            "again (a requeued job can re-run its own command line): a setting that "
            "contradicts the saved run is refused, --epochs included (the learning-rate "
            "schedule spans the epochs). With no run in --out yet, the whole command starts it."
        ),
    ] = False,
    dry_run: Annotated[
        bool, typer.Option(help="Load data, build the model, print the plan; train nothing.")
    ] = False,
    progress: Annotated[bool, typer.Option(help="Show progress bars.")] = True,
    log: Annotated[
        list[str] | None,
        typer.Option(
            "--log",
            "--track",  # the same; under torchrun, whose parser calls --log ambiguous
            help="Experiment tracking, repeatable: tensorboard (in RUN/tensorboard), mlflow "
            "(RUN/mlruns or $MLFLOW_TRACKING_URI) or none. Every step's losses, each epoch's "
            "metrics, a picture per epoch, the settings. Not saved with the run. Under "
            "torchrun, write --track (torchrun refuses --log).",
        ),
    ] = None,
    device: Annotated[
        str,
        typer.Option(
            help="auto, cpu, cuda, cuda:N or mps; auto takes CUDA, then MPS, then the CPU. "
            "Not saved with the run: it may resume on another device."
        ),
    ] = "auto",
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
        "data.image_size": image_size,
    }  # fmt: skip
    given = {k: v for k, v in flags.items() if v is not None}
    if resume:
        run_config, resume = resume_config(out, model, config, given, overrides or [], preset)
    else:
        if model is None:
            raise AekitError("name a model to train, e.g. `aekit train conv-ae` (see aekit models)")
        run_config = build_run_config(model, config, given, overrides or [], preset)
    from aekit.tracking import check_names

    trackers = check_names(log or [])  # a bad name or a missing extra: one line, before data
    set_threads(threads)
    if dry_run:
        if run_config is None:  # --resume of the run in --out: describe what it will continue
            from aekit.training.checkpoint import read_run_config

            run_config = read_run_config(out)
        describe_plan(run_config, out)
        return
    result = train_run(
        run_config, out, resume=resume, progress=progress, device=device, log=trackers
    )
    if result.interrupted:
        typer.echo(
            f"interrupted: checkpoint saved; continue with: aekit train --resume --out {out} "
            "(or this same command with --resume)"
        )
        raise typer.Exit(130)
    if os.environ.get("RANK", "0") not in ("", "0"):  # torchrun: rank 0 speaks for the run
        return
    best = (
        "" if result.best_val_loss is None else f", best validation loss {result.best_val_loss:.4g}"
    )
    early = " (stopped early)" if result.stopped_early else ""
    typer.echo(
        f"trained {len(result.history)} epochs{early}{best}, precision {result.precision}; "
        f"run saved in {out}\nevaluate it with: aekit eval {out}"
    )


def resume_config(
    out: Path,
    model: str | None,
    config_file: Path | None,
    flags: dict,
    overrides: list[str],
    preset_name: str | None,
):
    """--resume: `(None, True)` continues the run saved in `out`, once every setting the
    command names agrees with it; `(config, False)` starts the run the command describes when
    `out` holds none yet (a requeued job's first attempt).

    A contradiction is refused, not applied: the run continues bitwise only as it was started.
    That holds for train.epochs too: the cosine learning-rate schedule spans every epoch, so
    more epochs would change each step already taken (and early stopping and the best weights
    were judged against the old end). A longer run is a new run."""
    from aekit.training.checkpoint import CONFIG, read_run_config

    described = model is not None or flags or config_file is not None or overrides or preset_name
    if not (out / CONFIG).exists():
        if not described:
            return None, True  # train_run says that `out` is no run directory
        if model is None:
            raise AekitError(
                f"--resume: {str(out)!r} holds no run yet (no {CONFIG}); to start it there, "
                "give the whole command, model included"
            )
        return build_run_config(model, config_file, flags, overrides, preset_name), False
    if not described:
        return None, True
    saved = to_plain(read_run_config(out))
    if model is not None and model != saved["model_name"]:
        contradictions = [resume_clash("model_name", saved["model_name"], model)]
    else:
        given = build_run_config(saved["model_name"], config_file, flags, overrides, preset_name)
        keys = explicit_keys(saved["model_name"], config_file, flags, overrides, preset_name)
        given_values = flatten(to_plain(given))
        saved_values = flatten(saved)
        contradictions = [
            resume_clash(key, saved_values[key], given_values[key])
            for key in keys
            # a key one side lacks (model.scale of a model without one) sets nothing there
            if key in given_values and key in saved_values
            and given_values[key] != saved_values[key]
        ]  # fmt: skip
    if contradictions:
        why = (
            " (train.epochs too: the learning-rate schedule spans the epochs)"
            if any(c.startswith("train.epochs ") for c in contradictions)
            else ""
        )
        raise AekitError(
            f"--resume: {'; '.join(contradictions)}; --resume continues a run exactly as it was "
            f"configured{why}: drop the differing settings, or start a new run with another --out"
        )
    return None, True


def explicit_keys(
    model: str,
    config_file: Path | None,
    flags: dict,
    overrides: list[str],
    preset_name: str | None,
) -> list[str]:
    """The dotted keys a command sets itself, in the order it names them: the preset's, the
    config file's, the flags', then --set's. Only these are compared on --resume; everything
    else comes from the saved run anyway."""
    from aekit.config import load_config_file, parse_override

    keys: list[str] = []
    if preset_name is not None:
        from aekit.models import preset

        keys += preset(model, preset_name)
    if config_file is not None:
        from_file = load_config_file(config_file)
        from_file.pop("aekit_version", None)  # who wrote a config.json, not a setting
        keys += flatten(from_file)
    keys += flags
    keys += [".".join(parse_override(text)[0]) for text in overrides]
    return list(dict.fromkeys(keys))


def to_plain(run_config) -> dict:
    """A RunConfig as JSON data (tuples become lists), so saved and given values compare."""
    from aekit.config import to_dict

    return json.loads(json.dumps(to_dict(run_config)))


def flatten(table: dict, prefix: str = "") -> dict:
    """{"train": {"lr": 0.1}} -> {"train.lr": 0.1}; lists are values, not tables."""
    flat = {}
    for key, value in table.items():
        if isinstance(value, dict):
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def resume_clash(key: str, saved, given) -> str:
    def shown(value) -> str:
        return repr(value) if isinstance(value, str) else json.dumps(value)

    return f"{key} is {shown(saved)} in the saved run, {shown(given)} given"


def set_threads(threads: str | None) -> None:
    """Apply --threads; without it, keep torch's default (every core) but say when the machine
    is busy, because two threads on two shared cores can run many times slower than one."""
    import torch

    from aekit.runtime.precision import choose_threads

    if threads is None and int(os.environ.get("WORLD_SIZE", "1") or "1") > 1:
        # torchrun's ranks share the cores: one thread each (torchrun's own OMP default)
        torch.set_num_threads(1)
        return
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
    """Defaults, then the model's settings for the run's task (ModelSpec.task_presets), then
    the preset, then the config file, then explicit flags, then --set: later wins."""
    from aekit.config import apply_overrides, to_dict
    from aekit.models import spec_of
    from aekit.runs import default_run_config

    # The model's modality sets the task keys, so `--set task.*` is checked against its own.
    spec = spec_of(model)
    defaults = to_dict(default_run_config(model, modality=spec.modality))
    merged = _layers(model, defaults, config_file, flags, overrides, preset_name)
    # A malformed file ("task": null, a name that is no string) gets its one line from
    # merged_config below, not a TypeError here.
    task, model_table = merged.get("task"), merged.get("model")
    name = task.get("name") if isinstance(task, dict) else None
    by_task = spec.task_presets.get(name) if isinstance(name, str) else None
    # A network the user shaped (--arch, --preset, --latent-dim: a code of N numbers asks for a
    # bottleneck) is the network trained; the task picks one only when the user picked none, or
    # picked the task's own (--arch unet for denoise still gets the task's loss).
    shaped = preset_name is not None or any(
        key in flags or any(o.split("=")[0].strip() == key for o in overrides)
        for key in ("model.arch", "model.latent_dim")
    )
    if (
        by_task
        and isinstance(model_table, dict)
        and (model_table.get("arch") == by_task.get("model.arch"))
    ):
        shaped = False
    if not by_task or shaped:
        return merged_config(merged)
    defaults = apply_overrides(defaults, [f"{k}={json.dumps(v)}" for k, v in by_task.items()])
    return merged_config(_layers(model, defaults, config_file, flags, overrides, preset_name))


def merged_config(table: dict):
    from aekit.config import RunConfig, from_dict

    return from_dict(RunConfig, table, where="run")


def _layers(
    model: str,
    base: dict,
    config_file: Path | None,
    flags: dict,
    overrides: list[str],
    preset_name: str | None,
) -> dict:
    """`base` with the preset, the config file, the flags and --set over it, unchecked."""
    from aekit.config import apply_overrides, deep_merge, load_config_file

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
    return apply_overrides(base, settings + overrides)


def describe_plan(run_config, out: Path) -> None:
    from dataclasses import replace

    from aekit.config import to_dict
    from aekit.runs import build_for_data, class_count, load_data, plan_line

    dataset = load_data(run_config)
    model, _ = build_for_data(run_config, dataset.image_shape, class_count(dataset))
    params = sum(p.numel() for p in model.parameters())
    # Unset epochs and batch size as training would choose them for this split (one process).
    run_config = replace(run_config, train=run_config.train.resolved(len(dataset.train)))
    typer.echo(json.dumps(to_dict(run_config), indent=2))
    typer.echo(
        f"dry run: {run_config.model_name} with {params:,} parameters, code dimension "
        f"{model.code_dim}; {dataset.name} train/val/test = {len(dataset.train)}/"
        f"{len(dataset.val)}/{len(dataset.test)} images of shape {dataset.image_shape}; "
        f"would write {out}\n{plan_line(run_config.train, len(dataset.train))}"
    )
