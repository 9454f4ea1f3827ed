"""`aekit eval`: a run's test metrics beside its classical baselines."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from aekit.cli.common import DataDir, OtherData, RunDir, Split, app


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
    from aekit.cli.images import check_split
    from aekit.evaluation.evaluate import evaluate_model, evaluate_on
    from aekit.runs import load_data, open_run

    check_split(split)
    opened = open_run(run, data, data_dir)
    loaded, dataset, modality = opened.run, opened.dataset, opened.modality
    task = modality.evaluation_task(loaded.config.task)
    report = evaluate_on(
        loaded.model, loaded.config.model_name, dataset, split, task, limit=limit,
        modality=modality,
    )  # fmt: skip
    if nll_samples:
        from aekit.latent.likelihood import importance_nll

        rows = getattr(dataset, split).rows[:limit]
        labels = getattr(dataset, split).labels
        labels = None if labels is None else labels[:limit]
        report.likelihood = importance_nll(loaded.model, rows, nll_samples, labels=labels)
    if dataset.name != loaded.config.data.name and loaded.config.data.name:
        own = load_data(loaded.config)  # the drop is measured on the same split of its own data
        own_split = getattr(own, split)
        own_labels = None if own_split.labels is None else own_split.labels[:limit]
        report.own_dataset = own.name
        report.own_metrics, _ = evaluate_model(
            loaded.model, own_split.rows[:limit], task, labels=own_labels, modality=modality
        )
    typer.echo(json.dumps(report.to_dict(), indent=2) if as_json else report.table())
