"""`aekit report RUN`: one self-contained HTML page about a trained run.

The page holds the run's settings and data, its loss curves, its test metrics beside the
classical baselines `aekit eval` prints (the very same numbers: `evaluate_on` computes both),
and pictures. What the pictures are is the modality's half of the page (`Page`, made by one
function per modality, `PAGES`): for images, inputs, outputs, baseline outputs and targets and,
where the model has a code to look at, the code space: a scatter, samples and a manifold for
variational models, and interpolations (this module); for melodies, piano rolls with sound
(reports/melody.py). Pictures are PNG data URIs and sounds WAV data URIs, so the file opens
anywhere with no network; the same files are written beside it (RUN/report/*.png, *.mid,
*.wav) for slides and papers.

Everything is computed in memory before the first file is written: a bad run directory, a
missing dataset or a failing figure leaves nothing behind.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from aekit.core.spec import num_classes, spec_for
from aekit.errors import AekitError
from aekit.evaluation.evaluate import Baseline, EvalReport, evaluate_on, task_name
from aekit.reports import figures as figs

SEED = 0  # every random draw in a report (task noise, samples) comes from this: same run, same page


@dataclass(frozen=True)
class Clip:
    """Something to listen to under a figure: its MIDI always, its WAV when it could be made."""

    label: str  # what it is, beside the player
    stem: str  # file stem under the figure folder
    midi: bytes
    wav: bytes | None = None


@dataclass(frozen=True)
class Figure:
    name: str  # file stem under the figure folder
    title: str  # the section's heading
    caption: str  # what to look at, in a sentence or two
    png: bytes
    clips: tuple[Clip, ...] = ()  # players under the picture (melodies)


@dataclass
class Page:
    """One modality's half of a report: what the common page (settings, training, metrics)
    cannot know about the data."""

    task: str  # the run's task, as the Run table says it
    run_rows: list[tuple[str, Any]]  # more rows of the Run table (the input's shape)
    data_rows: list[tuple[str, Any]]  # the Data table
    figures: list[Figure]  # in page order; a first one named "losses" goes under Training
    notes: list[str] = field(default_factory=list)  # one line each above the figures

    def files(self, folder: Path) -> list[tuple[Path, bytes]]:
        """What is written beside the page: each figure's PNG, each clip's MIDI and WAV."""
        out = [(folder / f"{f.name}.png", f.png) for f in self.figures]
        for clip in (c for f in self.figures for c in f.clips):
            out.append((folder / f"{clip.stem}.mid", clip.midi))
            if clip.wav is not None:
                out.append((folder / f"{clip.stem}.wav", clip.wav))
        return out


# Each modality's page, "module:function" imported on first use (as the modalities are).
PAGES = {
    "images": "aekit.reports.report:image_page",
    "melody": "aekit.reports.melody:melody_page",
}


@dataclass(frozen=True)
class Headline:
    """The one number a run is judged by, beside the baseline it has to beat."""

    metric: str  # "mse" or "psnr"
    value: float
    baseline: str
    baseline_value: float

    @property
    def higher_is_better(self) -> bool:
        return self.metric in ("psnr", "ssim")

    @property
    def beats(self) -> bool:
        if self.higher_is_better:
            return self.value > self.baseline_value
        return self.value < self.baseline_value

    def describe(self) -> str:
        if self.metric == "psnr":
            ours, theirs = f"{self.value:.2f} dB", f"{self.baseline_value:.2f} dB"
            gap = f"{self.value - self.baseline_value:+.2f} dB"
        else:
            ours, theirs = f"{self.value:.4f}", f"{self.baseline_value:.4f}"
            gap = f"{self.value / self.baseline_value:.2f}x the baseline's"
        verdict = "beats" if self.beats else "does not beat"
        return (
            f"test {self.metric.upper()} {ours} vs {self.baseline} {theirs} ({gap}): "
            f"{verdict} its baseline"
        )


def headline(report: EvalReport) -> Headline | None:
    """What a use is judged by: an upscaler's PSNR against bicubic, a denoiser's PSNR against
    the best classical filter, an autoencoder's MSE against PCA at the same code size."""
    kind = report.task
    if kind == "superres":
        chosen = "bicubic" if "bicubic" in report.baselines else None
        metric = "psnr"
    elif kind == "denoise":
        classical = [b for b in report.baselines if not b.startswith("PCA(")]
        chosen = max(classical, key=lambda b: report.baselines[b]["psnr"], default=None)
        metric = "psnr"
    else:
        chosen = next((b for b in report.baselines if b.startswith("PCA(")), None)
        metric = "mse"
    if chosen is None:
        return None
    return Headline(metric, report.metrics[metric], chosen, report.baselines[chosen][metric])


@dataclass
class ReportResult:
    html: Path
    figures: list[Path]  # the PNGs written beside the page
    report: EvalReport
    headline: Headline | None
    seconds: float
    extra: dict[str, Any] = field(default_factory=dict)


def build_report(
    run_dir: str | Path,
    *,
    out: str | Path | None = None,
    data: str | None = None,
    data_dir: str | Path | None = None,
    limit: int | None = 2000,
    nll_samples: int = 0,
    dataset: Any = None,
) -> ReportResult:
    """Write `out` (default RUN/report.html) and its figures (beside it, in a folder named
    after it: RUN/report/*.png). `limit` caps the test images scored and plotted; `data`
    names other data than the run's own (a run trained from Python records none); `dataset`
    lets a caller that already loaded the data pass it in."""
    from aekit.modalities import get_modality
    from aekit.reports.html import render_report
    from aekit.runs import run_data
    from aekit.training.checkpoint import load_run

    started = time.perf_counter()
    run_dir = Path(run_dir)
    out = Path(out) if out is not None else run_dir / "report.html"
    if out.suffix.lower() not in (".html", ".htm"):
        raise AekitError(f"--out must be an .html file, got {out}")
    if limit is not None and limit < 1:
        raise AekitError(f"--limit must be at least 1, got {limit}")
    if nll_samples < 0:
        raise AekitError(f"--nll-samples must be 0 (off) or more, got {nll_samples}")
    loaded = load_run(run_dir)
    kind = loaded.config.modality
    if kind not in PAGES:
        raise AekitError(f"aekit report has no page for {kind} runs; it knows {', '.join(PAGES)}")
    if nll_samples and kind != "images":
        raise AekitError(
            f"--nll-samples is for image models (binarized pixels); this is a {kind} run"
        )
    if dataset is None:
        dataset = run_data(loaded.config, data, data_dir)
    modality = get_modality(kind)
    task = modality.build_task(loaded.config.task)
    name = loaded.config.model_name
    fitted = modality.baselines(loaded.model, dataset, task)
    report = evaluate_on(
        loaded.model, name, dataset, "test", task, limit=limit, fitted=fitted, modality=modality
    )
    rows = dataset.test.rows[:limit]
    labels = None if dataset.test.labels is None else dataset.test.labels[:limit]
    if nll_samples:
        from aekit.latent.likelihood import importance_nll

        report.likelihood = importance_nll(loaded.model, rows, nll_samples, labels=labels)
    from aekit.core.spec import resolve  # "aekit.module:name", aekit's own modules only

    make_page = resolve(PAGES[kind])
    page = make_page(loaded, dataset, task, fitted[0], rows, labels, report)
    folder = out.with_suffix("")
    top = headline(report)
    html = render_report(loaded, report, top, page, folder.name)

    from aekit.atomic import atomic_write, write_text_atomic

    files = page.files(folder)
    for path, data in files:
        with atomic_write(path) as f:
            f.write(data)
    write_text_atomic(out, html)
    pngs = [path for path, _ in files if path.suffix == ".png"]
    sounds = [path for path, _ in files if path.suffix != ".png"]
    return ReportResult(out, pngs, report, top, time.perf_counter() - started,
                        extra={"sounds": sounds, "page": page})  # fmt: skip


def image_page(
    loaded: Any,
    dataset: Any,
    task: Any,
    baselines: dict[str, Baseline],
    images: np.ndarray,
    labels: np.ndarray | None,
    report: EvalReport,
) -> Page:
    """The image half of the page: the input shape, the data, and every figure."""
    from aekit.reports.html import data_rows

    config = loaded.config
    described = report.task
    if described == "denoise":
        described = f"denoise ({config.task['noise']})"
    elif described == "superres":
        from aekit.modalities.images.tasks import describe_downscale

        described = f"super-resolution x{config.task['scale']} ({describe_downscale(config.task)})"
    return Page(
        task=described,
        run_rows=[("input shape (C, H, W)", tuple(loaded.model.config.image_shape))],
        data_rows=data_rows(dataset, config, report),
        figures=make_figures(loaded, dataset, task, baselines, images, labels),
    )


def loss_figure(loaded: Any, noun: str, unit: str) -> Figure | None:
    """Training and validation loss per epoch, one panel per logged part; None before the
    first epoch is logged."""
    if not loaded.metrics:
        return None
    name = loaded.config.model_name
    curves = figs.loss_curves(loaded.metrics, f"{name}: loss per epoch", unit=unit)
    caption = (
        "Training loss is the mean over each epoch's batches; validation loss is measured "
        f"after the epoch on held-out {noun}. The saved weights are those of the epoch with "
        "the lowest validation loss."
    )
    return Figure("losses", "Loss curves", caption, figs.png_bytes(curves))


def make_figures(
    loaded: Any,
    dataset: Any,
    task: Any,
    baselines: dict[str, Baseline],
    images: np.ndarray,
    labels: np.ndarray | None,
) -> list[Figure]:
    """Every figure the run calls for, in page order."""
    model, name = loaded.model, loaded.config.model_name
    classes = dataset.classes
    losses = loss_figure(loaded, "images", "per image (sum over pixels)")
    figures = [] if losses is None else [losses]
    figures.append(examples_figure(model, name, images, labels, classes, task, baselines))
    # An upscaler's code is a feature map, not a latent code; a net with skip connections (the
    # denoiser's unet) has none it can decode alone: no code space to show for either.
    if task_name(task) == "superres" or not getattr(model, "decodable", True):
        return figures
    scatter = latent_figure(model, name, dataset.name, images, labels, classes)
    if scatter is not None:
        figures.append(scatter)
    if spec_for(model).has_prior:
        figures += generative_figures(model, name, classes)
    strip = interpolation_figure(model, name, images, labels, classes)
    if strip is not None:
        figures.append(strip)
    return figures


def example_indices(labels: np.ndarray | None, n: int, total: int) -> np.ndarray:
    """n test images, classes taken in turn (the first of each class, then the second, ...)
    so every class is shown; without labels simply the first n."""
    if labels is None:
        return np.arange(min(n, total))
    by_class = [np.flatnonzero(labels == k) for k in np.unique(labels)]
    chosen: list[int] = []
    for rank in range(total):
        for members in by_class:
            if rank < len(members) and len(chosen) < n:
                chosen.append(int(members[rank]))
        if len(chosen) >= n:
            break
    return np.array(chosen, dtype=np.int64)


def class_name(classes: Any, label: int) -> str:
    return str(classes[label]) if classes is not None and label < len(classes) else str(label)


@torch.no_grad()
def examples_figure(
    model: Any,
    name: str,
    images: np.ndarray,
    labels: np.ndarray | None,
    classes: Any,
    task: Any,
    baselines: dict[str, Baseline],
) -> Figure:
    from aekit.inference import batches

    index = example_indices(labels, 10, len(images))
    x = next(batches(images[index], len(index)))
    y = None if labels is None else torch.from_numpy(labels[index])
    inputs, target = task(x, torch.Generator().manual_seed(SEED))
    output = model(inputs, y).recon.float()
    kind = task_name(task)
    rows: list[tuple[str, np.ndarray]] = []
    same = inputs.shape == target.shape and torch.equal(inputs, target)
    if same:
        rows.append(("test image\n(input = target)", target.numpy()))
    else:
        h, w = inputs.shape[-2:]
        what = {"denoise": f"noisy input\n{task.config.noise}", "superres": f"input {w}x{h}"}
        rows.append((what.get(kind, "input"), inputs.numpy()))
    rows.append((f"{name} output", output.numpy()))
    for baseline, fn in baselines.items():
        rows.append((f"{baseline}\n(baseline)", fn(inputs).float().numpy()))
    if not same:
        rows.append(({"denoise": "clean target", "superres": "target"}.get(kind, "target"),
                     target.numpy()))  # fmt: skip
    columns = None if y is None else [class_name(classes, int(k))[:12] for k in y]
    title = f"{name} on test images ({kind}): one column per image"
    caption = (
        "Inputs as the model sees them, its outputs, each baseline's output for the same input, "
        "and the target. Low-resolution inputs are enlarged without smoothing."
    )
    return Figure("examples", "Inputs, outputs and targets", caption,
                  figs.png_bytes(figs.image_rows(rows, title, columns)))  # fmt: skip


def latent_figure(
    model: Any, name: str, data_name: str, images: np.ndarray, labels: Any, classes: Any
) -> Figure | None:
    from aekit.inference import embed
    from aekit.latent.plane import fit_plane

    codes = embed(model, images, labels=labels).reshape(len(images), -1)
    if codes.shape[1] < 2 or len(images) < 3:
        return None
    plane = fit_plane(codes)
    points, axes, how = plane.project(codes), plane.axes, plane.describe(codes.shape[1])
    what = "posterior means" if spec_for(model).variational else "codes"
    short = data_name.rsplit("/", 1)[-1]  # npz:/long/path/x.npz -> x.npz
    title = f"{name} {what} of {len(images)} {short} test images\n{how}"
    caption = (
        "Each point is one test image's code, coloured by its class; no label was used to "
        "train the encoder, so classes that separate here were found from the pixels alone."
    )
    if spec_for(model).conditional:
        caption = (
            "Each point is one test image's code, coloured by its class. The encoder of a "
            "conditional model is given the class, so its code is free to hold the rest (the "
            "style): classes should overlap here."
        )
    png = figs.png_bytes(figs.scatter(points, labels, classes, title, axes))
    return Figure("latent", "Latent space", caption, png)


@torch.no_grad()
def generative_figures(model: Any, name: str, classes: Any) -> list[Figure]:
    """Samples from the prior (per class for a conditional model) and a manifold over z[0],
    z[1] at N(0, 1) quantiles."""
    from aekit.latent.generation import decode_codes, manifold_codes

    model.eval()
    generator = torch.Generator().manual_seed(SEED)
    n_classes = num_classes(model)
    if n_classes is None:
        samples = model.sample(64, None, generator=generator).float().numpy()
        picture = figs.mosaic(samples, 8, f"{name}: 64 images decoded from z ~ N(0, I)")
        caption = "Codes drawn from the prior and decoded: what the model generates."
    else:
        y = torch.arange(n_classes).repeat_interleave(8)
        samples = model.sample(len(y), y, generator=generator).float().numpy()
        rows = [class_name(classes, k) for k in range(n_classes)]
        title = f"{name}: 8 samples per class, z ~ N(0, I) decoded with the class label"
        picture = figs.mosaic(samples, 8, title, row_labels=rows)
        caption = "One row per class: fresh prior draws decoded with that class's label."
    figures = [Figure("samples", "Samples from the prior", caption, figs.png_bytes(picture))]
    latent_dim = int(model.config.latent_dim)
    if latent_dim >= 2:
        size = 15
        codes = manifold_codes(size, latent_dim, (0, 1))
        labels = None if n_classes is None else np.zeros(size * size, dtype=np.int64)
        decoded = decode_codes(model, codes, labels).numpy()
        # the grid's own values: columns run across z[0], rows down z[1]
        ticks = ([f"{v:.2f}" for v in codes[:size, 0]], [f"{v:.2f}" for v in codes[::size, 1]])
        rest = "" if latent_dim == 2 else f"; z[2..{latent_dim - 1}] = 0"
        which = "" if n_classes is None else f", class {class_name(classes, 0)}"
        title = f"{name}: decoded grid over z[0] and z[1]{rest}{which}"
        picture = figs.mosaic(decoded, size, title, axis_labels=("z[0]", "z[1]"), ticks=ticks)
        caption = (
            "Codes on a grid of the prior's quantiles from 5% to 95% (equal prior mass between "
            "neighbours), decoded: how the images change across the latent plane."
        )
        figures.append(Figure("manifold", "Latent manifold", caption, figs.png_bytes(picture)))
    return figures


def interpolation_pairs(labels: np.ndarray | None, conditional: bool, n: int = 4):
    """(a, b, label) index pairs: images of different classes; for a conditional model, two
    images of the same class, decoded with that class (the code holds only the style)."""
    if labels is None:
        return [(2 * i, 2 * i + 1, None) for i in range(n)]
    by_class = {int(k): np.flatnonzero(labels == k) for k in np.unique(labels)}
    keys = sorted(by_class)
    if conditional:
        usable = [k for k in keys if len(by_class[k]) >= 2][:n]
        return [(int(by_class[k][0]), int(by_class[k][1]), k) for k in usable]
    if len(keys) < 2:
        return [(2 * i, 2 * i + 1, None) for i in range(n)]
    pairs = [(keys[(2 * i) % len(keys)], keys[(2 * i + 1) % len(keys)]) for i in range(n)]
    return [(int(by_class[a][0]), int(by_class[b][0]), None) for a, b in pairs if a != b]


@torch.no_grad()
def interpolation_figure(
    model: Any, name: str, images: np.ndarray, labels: Any, classes: Any
) -> Figure | None:
    from aekit.inference import embed
    from aekit.latent.generation import decode_codes, interpolate_codes

    conditional = spec_for(model).conditional
    pairs = [p for p in interpolation_pairs(labels, conditional) if max(p[:2]) < len(images)]
    if not pairs:
        return None
    steps = 8
    rows = []
    for a, b, k in pairs:
        y = None if k is None else np.full(1, k, dtype=np.int64)
        za, zb = (torch.from_numpy(embed(model, images[[i]], labels=y)) for i in (a, b))
        codes = interpolate_codes(za, zb, steps, spherical=False)
        strip = decode_codes(model, codes, None if y is None else np.repeat(y, steps)).numpy()
        ends = images[[a, b]].astype(np.float32) / 255.0
        strip = np.concatenate([ends[:1], strip, ends[1:]])
        if labels is None:
            label = f"image {a} to {b}"
        elif conditional:
            label = f"{class_name(classes, int(labels[a]))}\n(two images)"
        else:
            first, second = (class_name(classes, int(labels[i])) for i in (a, b))
            label = f"{first}\nto {second}"
        rows.append((label, strip))
    columns = ["image A", *(f"{t:.2f}" for t in np.linspace(0, 1, steps)), "image B"]
    title = f"{name}: decoding codes on the straight line from A's code (0) to B's (1)"
    caption = (
        "The first and last columns are the real images; between them the decoder's view of "
        "the way from one code to the other. Smooth, plausible middles mean a well-organised "
        "code space."
    )
    png = figs.png_bytes(figs.image_rows(rows, title, columns))
    return Figure("interpolation", "Interpolation", caption, png)
