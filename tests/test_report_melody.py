"""`aekit report` on a melody run: one self-contained page with piano rolls of free-running
reconstructions, prior samples and an interpolation, WAV players (when fluidsynth is here) and
MIDI links; without fluidsynth one line says so and the rest is there."""

from __future__ import annotations

import base64
import io
import re
import shutil
import wave
from html import escape
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from aekit.errors import AekitError
from aekit.modalities.melody import render
from aekit.reports import melody as melody_page
from aekit.reports.report import build_report
from aekit.training.checkpoint import load_run
from tests.melody.synth import mido, train_melody_run

HAVE_AUDIO = shutil.which("fluidsynth") is not None and render.find_soundfont() is not None
needs_audio = pytest.mark.skipif(not HAVE_AUDIO, reason="fluidsynth or a GM soundfont missing")
FIGURES = ["losses", "reconstructions", "samples", "interpolation"]
CLIPS = melody_page.HEARD * 2 + melody_page.SAMPLES_HEARD + 1  # pairs, samples, the path


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Reports decode melodies step by step (the evaluation's 1000 prior samples too): on a
    shared machine a second torch thread only waits, and made this module several times slower."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    return train_melody_run(tmp_path_factory.mktemp("melody-report"))


@pytest.fixture(scope="module")
def drawn(run, tmp_path_factory):
    """The report of `run` (written elsewhere, so each test starts from a clean run), and every
    piano roll it drew: (result, html, [(melodies, labels, title), ...])."""
    rolls = []
    real = render.piano_roll_png

    def spy(melodies, labels=None, *, title=None):
        rolls.append(([np.asarray(m) for m in melodies], labels, title))
        return real(melodies, labels, title=title)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(melody_page.render, "piano_roll_png", spy)
        result = build_report(run, out=tmp_path_factory.mktemp("out") / "mel.html")
    return result, result.html.read_text(), rolls


def data_uris(html: str, kind: str) -> list[bytes]:
    found = re.findall(rf'(?:src|href)="data:{re.escape(kind)};base64,([^"]+)"', html)
    return [base64.b64decode(data) for data in found]


def test_the_report_is_one_file_with_rolls_players_and_midi(drawn):
    result, html, _ = drawn
    for section in ["Run", "Data", "Training", "Loss curves", "Test metrics beside the baselines",
                    "Reconstructions (free running)", "Samples from the prior", "Interpolation",
                    "token_accuracy", "nearest training window", "test windows"]:  # fmt: skip
        assert section in html, section
    assert result.report.more_table and escape(result.report.more_table) in html  # eval's
    pngs = data_uris(html, "image/png")
    assert len(pngs) == len(FIGURES)
    for png in pngs:
        Image.open(io.BytesIO(png)).verify()
    folder = result.html.with_suffix("")
    assert sorted(p.stem for p in result.figures) == sorted(FIGURES)
    assert {p.read_bytes() for p in result.figures} == set(pngs)  # the files are the figures
    midis = data_uris(html, "audio/midi")
    assert len(midis) == CLIPS and all(m.startswith(b"MThd") for m in midis)
    written = sorted(p for p in result.extra["sounds"] if p.suffix == ".mid")
    assert sorted(folder.glob("*.mid")) == written and len(written) == CLIPS
    # nothing from elsewhere: every src and href is a data: URI
    assert "http://" not in html and "https://" not in html and "<script" not in html
    links = re.findall(r'(?:src|href)="([^"]*)"', html)
    assert links and all(link.startswith("data:") for link in links)


@needs_audio
def test_players_carry_short_mono_wavs(drawn):
    result, html, _ = drawn
    assert "no audio" not in html
    wavs = data_uris(html, "audio/wav")
    players = re.findall(r"<audio controls[^>]*src=\"data:audio/wav;base64,", html)
    assert len(wavs) == len(players) == CLIPS
    seconds = []
    for data in wavs:
        with wave.open(io.BytesIO(data)) as f:
            assert (f.getnchannels(), f.getsampwidth(), f.getframerate()) == (1, 2, 22050)
            seconds.append(f.getnframes() / f.getframerate())
            samples = np.frombuffer(f.readframes(f.getnframes()), dtype="<i2")
        assert np.abs(samples).max() > 1000  # it sounds: the melodies have notes
    window = 4.0 + render.CLIP_TAIL_S  # 2 bars at 120 bpm and the release
    steps = melody_page.INTERPOLATION_STEPS
    path = 4.0 * steps + render.CLIP_TAIL_S  # the interpolation's windows in a row
    assert seconds == pytest.approx([window] * (len(wavs) - 1) + [path])
    assert result.html.stat().st_size < 4_000_000  # a few short clips, not minutes of sound


def test_reconstruction_rolls_are_free_running_not_teacher_forced(drawn, run):
    _, _, rolls = drawn
    melodies, labels, title = next(r for r in rolls if "reconstruction" in (r[2] or ""))
    inputs, outputs = np.stack(melodies[0::2]), np.stack(melodies[1::2])
    assert labels[0].startswith("test ") and labels[1].startswith("rebuilt")
    model = load_run(run).model.eval()
    x = torch.from_numpy(inputs.astype(np.int64))
    with torch.no_grad():
        mean = model.encode(x).mean
        free = model.decode(mean).argmax(-1).numpy()  # greedy, each step fed its own output
        forced = model.teacher_forced(x, mean).argmax(-1).numpy()  # fed the true tokens
    assert (free != forced).any(), "the test needs a model whose two decodings differ"
    np.testing.assert_array_equal(outputs, free)
    right = [int(n) for n in re.findall(r"(\d+)/32 right", "".join(labels[1::2]))]
    assert right == [int((a == b).sum()) for a, b in zip(inputs, free, strict=True)]


def test_the_interpolation_runs_between_two_test_windows(drawn, run):
    _, _, rolls = drawn
    melodies, labels, _ = next(r for r in rolls if "slerp" in (r[2] or ""))
    assert len(melodies) == melody_page.INTERPOLATION_STEPS + 2
    assert labels[0].startswith("A: test") and labels[-1].startswith("B: test")
    assert not np.array_equal(melodies[0], melodies[-1])


def test_without_fluidsynth_one_line_says_so_and_the_rest_is_there(
    run, tmp_path, monkeypatch, run_cli
):
    monkeypatch.setattr(render.shutil, "which", lambda name: None)
    out = tmp_path / "quiet.html"
    code, stdout, err = run_cli("report", run, "--out", out, "--limit", "8")
    assert code == 0, err
    assert f"wrote {out} (4 figures" in stdout
    html = out.read_text()
    assert html.count("no audio: fluidsynth is not installed") == 1
    assert "<audio" not in html and "data:audio/wav" not in html
    assert "8 test windows" in html
    assert len(data_uris(html, "image/png")) == len(FIGURES)
    assert len(data_uris(html, "audio/midi")) == CLIPS
    assert not list(tmp_path.glob("quiet/*.wav"))
    sample = (tmp_path / "quiet" / "sample-0.mid").read_bytes()
    assert len(mido.MidiFile(file=io.BytesIO(sample)).tracks[0]) > 3  # tempo, meter, notes


def test_melody_reports_refuse_the_image_likelihood(run, tmp_path):
    with pytest.raises(AekitError, match="--nll-samples is for image models"):
        build_report(run, out=tmp_path / "x.html", nll_samples=4)
    assert not list(tmp_path.iterdir())  # nothing written
