"""HTML for `aekit report` and the demo's index: plain pages, a little CSS, no external resource.

Every piece of text that comes from a run (names, paths, settings) goes through `html.escape`;
images are PNG data URIs and sounds WAV (and MIDI) data URIs, so a page is one file that opens
offline and can be mailed around.
"""

from __future__ import annotations

import base64
import html
import json
import statistics
from collections.abc import Iterable, Sequence
from typing import Any

from aekit import __version__

CSS = """
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #222;
       max-width: 1100px; margin: 2em auto; padding: 0 1em; }
h1 { font-size: 1.6em; margin-bottom: .2em; }
h2 { margin-top: 1.8em; border-bottom: 1px solid #ddd; }
.sub { color: #666; margin-top: 0; }
table { border-collapse: collapse; margin: .6em 0; }
th, td { border: 1px solid #ccc; padding: .25em .6em; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.best { font-weight: bold; } .note { color: #555; font-size: .92em; }
.verdict { padding: .6em .9em; border-radius: 4px; margin: 1em 0; }
.good { background: #e7f6e7; border: 1px solid #9c9; }
.bad { background: #fbeaea; border: 1px solid #d99; }
figure { margin: 1em 0; } figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { color: #555; font-size: .92em; max-width: 60em; }
details summary { cursor: pointer; color: #444; } code { font-size: .95em; }
.clips { display: grid; grid-template-columns: repeat(2, max-content); gap: .5em 2em;
         margin: .4em 0 1em; }  /* two a row: an input beside its reconstruction */
.clip { display: flex; align-items: center; gap: .5em; font-size: .92em; }
.clip audio { height: 2.2em; }
pre { background: #f6f6f6; padding: .6em; overflow-x: auto; font-size: .88em; }
"""

METRIC_NAMES = {  # the image metrics' row titles; other modalities' rows say name and direction
    "mse": "MSE (lower is better)",
    "bce": "BCE per pixel (lower is better)",
    "psnr": "PSNR, dB (higher is better)",
    "ssim": "SSIM (higher is better)",
}


def esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def page(title: str, body: Iterable[str]) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{esc(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n"
        + "\n".join(body)
        + f'\n<p class="note">Written by aekit {esc(__version__)}.</p>\n</body>\n</html>\n'
    )


def table(header: Sequence[str] | None, rows: Iterable[Sequence[str]]) -> str:
    """Cells are HTML already (callers escape text); a header cell per column, if any."""
    head = "" if header is None else "<tr>" + "".join(f"<th>{h}</th>" for h in header) + "</tr>\n"
    body = "".join("<tr>" + "".join(cells) + "</tr>\n" for cells in rows)
    return f"<table>\n{head}{body}</table>"


def td(value: Any, *, num: bool = False, best: bool = False) -> str:
    classes = " ".join(c for c, on in (("num", num), ("best", best)) if on)
    return f'<td class="{classes}">{esc(value)}</td>' if classes else f"<td>{esc(value)}</td>"


def key_values(pairs: Iterable[tuple[str, Any]]) -> str:
    return table(None, ([f"<th>{esc(k)}</th>", td(v)] for k, v in pairs))


def flatten(data: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """Nested settings as dotted keys (`train.lr`), the names `--set` takes."""
    if isinstance(data, dict):
        out: list[tuple[str, Any]] = []
        for key, value in data.items():
            out += flatten(value, f"{prefix}{key}.")
        return out
    return [(prefix[:-1], json.dumps(data) if isinstance(data, list | bool | None) else data)]


def format_value(metric: str, value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.2f}" if metric == "psnr" else f"{value:.4f}"


def metrics_table(report: Any) -> str:
    """The model's test metrics beside every baseline's, the best of each row in bold."""
    from aekit.modalities import get_modality

    metrics = get_modality(report.modality).metrics
    columns = {report.model: report.metrics, **report.baselines}
    rows = []
    for metric in metrics.names:
        values = {name: m.get(metric) for name, m in columns.items()}
        known = [v for v in values.values() if v is not None]
        higher = metric in metrics.higher_is_better
        best = (max if higher else min)(known) if known else None
        title = METRIC_NAMES.get(metric, f"{metric} ({metrics.better(metric)} is better)")
        cells = [f"<th>{esc(title)}</th>"]
        cells += [td(format_value(metric, v), num=True, best=v == best) for v in values.values()]
        rows.append(cells)
    header = ["metric", *(esc(name) for name in columns)]
    return table(header, rows)


def data_uri(kind: str, data: bytes) -> str:
    return f"data:{kind};base64," + base64.b64encode(data).decode("ascii")


def figure_html(figure: Any, folder: str) -> str:
    clips = getattr(figure, "clips", ())
    saved = f"<code>{esc(folder)}/{esc(figure.name)}.png</code>"
    if clips:
        saved += f", the sounds as <code>{esc(folder)}/*.mid</code> and <code>.wav</code>"
    return (
        f"<h2>{esc(figure.title)}</h2>\n<figure>\n"
        f'<img src="{data_uri("image/png", figure.png)}" alt="{esc(figure.title)}">\n'
        f"<figcaption>{esc(figure.caption)} (Also saved as {saved}.)</figcaption>\n</figure>"
        + clips_html(clips)
    )


def clips_html(clips: Sequence[Any]) -> str:
    """A player per clip with a WAV (embedded), and its MIDI file to download, always."""
    if not clips:
        return ""
    items = []
    for clip in clips:
        player = ""
        if clip.wav is not None:
            player = (f'<audio controls preload="none" src="{data_uri("audio/wav", clip.wav)}">'
                      "</audio>")  # fmt: skip
        midi = data_uri("audio/midi", clip.midi)
        items.append(
            f'<div class="clip"><span>{esc(clip.label)}</span>{player}'
            f'<a href="{midi}" download="{esc(clip.stem)}.mid">MIDI</a></div>'
        )
    return '\n<div class="clips">\n' + "\n".join(items) + "\n</div>"


def verdict_html(headline: Any) -> str:
    if headline is None:
        return ""
    kind = "good" if headline.beats else "bad"
    return f'<div class="verdict {kind}">{esc(headline.describe())}</div>'


def training_summary(
    history: list[dict[str, Any]], epochs: int, noun: str = "images"
) -> list[tuple[str, Any]]:
    if not history:
        return [("epochs trained", f"0 of {epochs}")]
    pairs: list[tuple[str, Any]] = [("epochs trained", f"{len(history)} of {epochs}")]
    seconds = sum(row.get("seconds", 0.0) for row in history)
    pairs.append(("training time", f"{seconds:.1f} s (validation not included)"))
    rates = [row["images_per_s"] for row in history if "images_per_s" in row]
    if rates:
        pairs.append(("median speed", f"{statistics.median(rates):,.0f} {noun}/s"))
    key = "val_loss" if "val_loss" in history[0] else "train_loss"
    best = min(history, key=lambda row: row[key])
    pairs.append((f"best {key.replace('_', ' ')}", f"{best[key]:.4g} (epoch {best['epoch']})"))
    return pairs


def render_report(loaded: Any, report: Any, headline: Any, page_parts: Any, folder: str) -> str:
    """The whole page of one run; `page_parts` is the modality's half of it (report.Page)."""
    from aekit.config import to_dict

    config = loaded.config
    model = loaded.model
    params = sum(p.numel() for p in model.parameters())
    noun = report.noun
    each = "per-image" if noun == "images" else f"per-{noun.removesuffix('s')}"
    body = [
        f"<h1>{esc(loaded.path.name)}: {esc(config.model_name)}</h1>",
        f'<p class="sub">aekit report of the run in <code>{esc(loaded.path)}</code></p>',
        verdict_html(headline),
        "<h2>Run</h2>",
        key_values(
            [
                ("model", config.model_name),
                ("task", page_parts.task),
                ("parameters", f"{params:,}"),
                ("code dimension", report.code_dim),
                *page_parts.run_rows,
                ("trained with aekit", config.aekit_version or "unknown"),
            ]
        ),  # fmt: skip
        "<details><summary>All settings (as <code>--set</code> keys)</summary>",
        key_values(flatten(to_dict(config))),
        "</details>",
        "<h2>Data</h2>",
        key_values(page_parts.data_rows),
        "<h2>Training</h2>",
        key_values(training_summary(loaded.metrics, config.train.epochs, report.noun)),
    ]
    figures = list(page_parts.figures)
    if figures and figures[0].name == "losses":
        body.append(figure_html(figures.pop(0), folder))
    body += [
        "<h2>Test metrics beside the baselines</h2>",
        f"<p>{esc(report.n_images)} test {esc(noun)}; {esc(each)} metrics, averaged. These are "
        f"the numbers <code>aekit eval {esc(loaded.path)} --limit {esc(report.n_images)}</code> "
        "prints.</p>",
        metrics_table(report),
        *(f'<p class="note">{esc(note)}</p>' for note in report.notes),
    ]
    if report.more_table:  # what the modality measures beyond per-row means, as eval prints it
        body.append(f"<pre>{esc(report.more_table)}</pre>")
    if report.likelihood is not None:
        lk = report.likelihood
        body.append(
            f"<p>Log-likelihood on dynamically binarized test images, {esc(lk['k'])} importance "
            f"samples: NLL <b>{lk['nll']:.2f}</b> nats, -ELBO {lk['neg_elbo']:.2f} nats per "
            "image (lower is better; the NLL is the tighter bound).</p>"
        )
    body += [f'<p class="note">{esc(note)}</p>' for note in page_parts.notes]
    body += [figure_html(figure, folder) for figure in figures]
    return page(f"aekit report: {loaded.path.name}", body)


def data_rows(dataset: Any, config: Any, report: Any) -> list[tuple[str, Any]]:
    classes = dataset.classes
    rows: list[tuple[str, Any]] = [
        ("dataset", dataset.name), ("found in", dataset.location),
        ("image shape (C, H, W)", dataset.image_shape),
        ("train / validation / test images",
         f"{len(dataset.train):,} / {len(dataset.val):,} / {len(dataset.test):,}"),
    ]  # fmt: skip
    if config.data.limit is not None:
        rows.append(("training images limited to", f"{config.data.limit:,} (data.limit)"))
    rows.append(("validation share", f"{config.data.val_fraction:g} of the training split"))
    if classes:
        rows.append((f"classes ({len(classes)})", ", ".join(classes)))
    rows.append(("test images scored here", f"{report.n_images:,}"))
    return rows


def render_index(title: str, entries: Sequence[dict[str, Any]], note: str) -> str:
    """The demo's front page: one row per run, its headline beside its baseline, a link to its
    report, the command that repeats it and one picture. Each entry: name, what, report (a
    relative link), headline (or None), train_seconds, report_seconds, command, preview (a
    relative path to a PNG, or None)."""
    rows = []
    for e in entries:
        h = e["headline"]
        if h is None:
            numbers = [td("-"), td("-"), td("-"), td("-")]
        else:
            unit = " dB" if h.metric == "psnr" else ""
            ours = format_value(h.metric, h.value) + unit
            theirs = f"{h.baseline} {format_value(h.metric, h.baseline_value)}{unit}"
            verdict = "yes" if h.beats else "no"
            numbers = [td(h.metric.upper()), td(ours, num=True, best=h.beats),
                       td(theirs, num=True), td(verdict)]  # fmt: skip
        link = f'<td><a href="{esc(e["report"])}">{esc(e["name"])}</a></td>'
        times = [td(f"{e['train_seconds']:.0f} s", num=True),
                 td(f"{e['report_seconds']:.0f} s", num=True)]  # fmt: skip
        rows.append([link, td(e["what"]), *numbers, *times])
    header = ["run (its report)", "what it learns", "metric", "model", "baseline", "beats it?",
              "training", "report"]  # fmt: skip
    body = [f"<h1>{esc(title)}</h1>", table(header, rows), f"<p>{esc(note)}</p>"]
    body.append("<h2>Repeat a run by hand</h2>")
    body.append("<pre>" + "\n".join(esc(e["command"]) for e in entries) + "</pre>")
    for e in entries:
        if e.get("preview"):
            body.append(
                f'<h2><a href="{esc(e["report"])}">{esc(e["name"])}</a>: {esc(e["what"])}</h2>\n'
                f'<figure><img src="{esc(e["preview"])}" alt="{esc(e["name"])}"></figure>'
            )
    return page(title, body)
