"""The melody half of `aekit report`: piano rolls to look at and clips to listen to.

    reconstructions   test windows, each above the model's reconstruction of it: the posterior
                      mean decoded greedily, every step fed the model's own previous token (free
                      running: what a user gets), not the true one (teacher forcing, which the
                      training loss and the token accuracy in the metrics table see)
    samples           codes drawn from the prior N(0, I), decoded greedily
    interpolation     two test windows of different tunes, the great circle (slerp) between
                      their posterior means decoded at evenly spaced steps

Every clip's MIDI is embedded (a download link) and written beside the page; its WAV too when
fluidsynth and a General MIDI soundfont are installed (modalities/melody/render.py), rendered
in one fluidsynth call for the whole page. Without them the page says so in one line and has
everything else. A few short mono clips keep the page at about 3 MB (`HEARD`, `SAMPLES_HEARD`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from aekit.evaluation.evaluate import EvalReport
from aekit.modalities.melody import render
from aekit.modalities.melody.inference import greedy_decode, posterior_means, reconstruct
from aekit.modalities.melody.midi import midi_bytes
from aekit.modalities.melody.tokens import BARS_PER_WINDOW, STEPS_PER_BAR
from aekit.reports.report import SEED, Clip, Figure, Page, loss_figure

RECONSTRUCTIONS = 4  # test windows drawn, each above its reconstruction
HEARD = 2  # of them also heard, input and output: 4 clips of 4.5 s (200 kB each as WAV)
SAMPLES = 6  # prior samples drawn
SAMPLES_HEARD = 2
INTERPOLATION_STEPS = 5  # ends included, heard as one 20 s clip (A's decoding to B's)


@dataclass(frozen=True)
class Pending:
    """A clip before its sound is rendered: every clip of the page is rendered at once."""

    figure: str
    label: str
    stem: str
    tokens: np.ndarray


def chosen_windows(rows: np.ndarray, unseen: np.ndarray | None, n: int) -> tuple[np.ndarray, str]:
    """n test windows spread evenly over the scored ones, taken from those never seen in
    training when there are enough (a window met in training says little): (indices, which)."""
    pool = np.arange(len(rows))
    which = "test windows"
    if unseen is not None and unseen.sum() >= n:
        pool, which = np.flatnonzero(unseen), "test windows never seen in training"
    picks = np.unique(np.linspace(0, len(pool) - 1, min(n, len(pool))).round().astype(int))
    return pool[picks], which


def other_window(index: int, tunes: np.ndarray | None, rows: np.ndarray) -> int | None:
    """A window to interpolate to: the first of another tune than `index`'s, else the first
    other window that differs from it; None when every window is the same."""
    others = [j for j in range(len(rows)) if not np.array_equal(rows[j], rows[index])]
    if tunes is not None:
        elsewhere = [j for j in others if tunes[j] != tunes[index]]
        others = elsewhere or others
    return others[0] if others else None


def melody_page(
    loaded: Any,
    dataset: Any,
    task: Any,
    baselines: dict[str, Any],
    rows: np.ndarray,
    labels: np.ndarray | None,
    report: EvalReport,
) -> Page:
    """The page's melody half: the windows' shape, the data, the loss curves, piano rolls and
    clips of reconstructions, prior samples and one interpolation."""
    model, name = loaded.model, loaded.config.model_name
    data = getattr(dataset, "data", None)  # the MelodyData behind the core's view of it
    unseen = data.unseen("test")[: len(rows)] if data is not None else None
    tunes = data.test.tune[: len(rows)] if data is not None else None
    figures: list[Figure] = []
    losses = loss_figure(loaded, "windows", "per window (sum over steps)")
    if losses is not None:
        figures.append(losses)
    pending: list[Pending] = []
    if len(rows):
        figures.append(reconstruction_figure(model, name, rows, unseen, pending))
    figures.append(samples_figure(model, name, pending))
    if len(rows) >= 2:
        strip = interpolation_figure(model, name, rows, tunes, unseen, pending)
        if strip is not None:
            figures.append(strip)
    figures, notes = with_sound(figures, pending)
    return Page(
        task=describe_task(loaded.config.task),
        run_rows=[("window", window_text(int(model.config.seq_len)))],
        data_rows=data_rows(dataset, data, loaded.config, report, unseen),
        figures=figures,
        notes=notes,
    )


def describe_task(task: dict[str, Any]) -> str:
    if task["name"] == "transpose":
        return (
            f"transpose (training windows shifted by up to +-{task['max_semitones']} semitones; "
            "reconstruct the shifted window)"
        )
    return str(task["name"])


def window_text(steps: int) -> str:
    bars = steps / STEPS_PER_BAR
    return f"{steps} steps of a 16th note ({bars:g} bars of 4/4), 90 token classes"


def data_rows(
    dataset: Any, data: Any, config: Any, report: EvalReport, unseen: np.ndarray | None
) -> list[tuple[str, Any]]:
    rows: list[tuple[str, Any]] = [("dataset", dataset.name)]
    if data is not None:
        rows.append(("found in", data.location))
        rows.append(("tunes", f"{len(data.tune_ids):,}, split by tune (seed {config.data.seed})"))
    rows.append((
        "train / validation / test windows",
        f"{len(dataset.train):,} / {len(dataset.val):,} / {len(dataset.test):,}",
    ))  # fmt: skip
    rows.append(("validation share", f"{config.data.val_fraction:g} of the tunes"))
    rows.append(("test windows scored here", f"{report.n_images:,}"))
    if unseen is not None:
        rows.append(("of them never seen in training", f"{int(unseen.sum()):,}"))
    if data is not None and data.messages:
        rows.append(("when the data was read", " ".join(data.messages)))
    return rows


def reconstruction_figure(
    model: Any, name: str, rows: np.ndarray, unseen: np.ndarray | None, pending: list[Pending]
) -> Figure:
    index, which = chosen_windows(rows, unseen, RECONSTRUCTIONS)
    inputs = np.asarray(rows[index])
    outputs = reconstruct(model, inputs)
    melodies, labels = [], []
    for k, (i, x, y) in enumerate(zip(index, inputs, outputs, strict=True)):
        right = int((x == y).sum())
        melodies += [x, y]
        labels += [f"test {i}", f"rebuilt\n{right}/{len(x)} right"]
        if k < HEARD:
            pending.append(Pending("reconstructions", f"test window {i}", f"test-{i}", x))
            pending.append(Pending("reconstructions", f"its reconstruction ({right}/{len(x)} "
                                   "steps right)", f"rebuilt-{i}", y))  # fmt: skip
    title = f"{name}: {len(index)} {which}, each above its free-running reconstruction"
    caption = (
        "Each test window (above) and the model's reconstruction of it (below): the window "
        "is encoded to its posterior mean, and the decoder writes the melody one step at a "
        "time, each step fed its own previous note (free running), as when you use the model. "
        "The token accuracy in the table above is teacher-forced (each step fed the true "
        "previous note), so it is kinder than these rolls. Bar lines are grey."
    )
    png = render.piano_roll_png(melodies, labels, title=title)
    return Figure("reconstructions", "Reconstructions (free running)", caption, png)


@torch.no_grad()
def samples_figure(model: Any, name: str, pending: list[Pending]) -> Figure:
    generator = torch.Generator().manual_seed(SEED)
    codes = torch.randn(SAMPLES, int(model.config.latent_dim), generator=generator)
    melodies = greedy_decode(model, codes)
    for k in range(min(SAMPLES_HEARD, SAMPLES)):
        pending.append(Pending("samples", f"sample {k}", f"sample-{k}", melodies[k]))
    title = f"{name}: {SAMPLES} melodies decoded from z ~ N(0, I)"
    caption = (
        "Codes drawn from the prior and decoded greedily (temperature 0), so the variety comes "
        "from the code alone: what the model generates. 'aekit sample RUN --temperature T' "
        "draws each note from the decoder's distribution instead."
    )
    labels = [f"sample {k}" for k in range(SAMPLES)]
    png = render.piano_roll_png(list(melodies), labels, title=title)
    return Figure("samples", "Samples from the prior", caption, png)


def interpolation_figure(
    model: Any,
    name: str,
    rows: np.ndarray,
    tunes: np.ndarray | None,
    unseen: np.ndarray | None,
    pending: list[Pending],
) -> Figure | None:
    from aekit.latent.generation import interpolate_codes

    a = int(chosen_windows(rows, unseen, 1)[0][0])
    b = other_window(a, tunes, rows)
    if b is None:
        return None
    ends = np.asarray(rows[[a, b]])
    za, zb = posterior_means(model, ends).split(1)
    codes = interpolate_codes(za, zb, INTERPOLATION_STEPS, spherical=True)
    path = greedy_decode(model, codes)
    t = np.linspace(0, 1, INTERPOLATION_STEPS)
    melodies = [ends[0], *path, ends[1]]
    labels = [f"A: test {a}", *(f"t = {v:.2f}" for v in t), f"B: test {b}"]
    pending.append(Pending("interpolation", f"decoded path from A to B ({INTERPOLATION_STEPS} "
                           "steps)", "interpolation", np.concatenate(path)))  # fmt: skip
    bars = BARS_PER_WINDOW * INTERPOLATION_STEPS
    title = f"{name}: slerp between the codes of test windows {a} and {b}"
    caption = (
        f"Top and bottom: the two test windows (of different tunes where the test split has "
        f"several). Between them: the codes "
        f"on the great circle from A's posterior mean (t = 0) to B's (t = 1), decoded "
        f"greedily. The clip plays the {INTERPOLATION_STEPS} decoded windows in a row "
        f"({bars} bars): a smooth path changes a few notes at a time."
    )
    png = render.piano_roll_png(melodies, labels, title=title)
    return Figure("interpolation", "Interpolation", caption, png)


def with_sound(figures: list[Figure], pending: list[Pending]) -> tuple[list[Figure], list[str]]:
    """Every pending clip rendered (one fluidsynth call) and attached to its figure: MIDI
    always, WAV when it could be made; the one-line note when it could not."""
    wavs, message = render.wav_clips([p.tokens for p in pending])
    notes = [] if wavs is not None else [f"{message}; the MIDI files are here all the same."]
    clips: dict[str, list[Clip]] = {}
    for k, p in enumerate(pending):
        wav = None if wavs is None else wavs[k]
        clips.setdefault(p.figure, []).append(Clip(p.label, p.stem, midi_bytes(p.tokens), wav))
    out = [Figure(f.name, f.title, f.caption, f.png, tuple(clips.get(f.name, ()))) for f in figures]
    return out, notes
