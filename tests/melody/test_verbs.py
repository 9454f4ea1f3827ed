"""`aekit sample | reconstruct | interpolate` on a melody run: MIDI that reads back to the tokens
the model gave, WAV when fluidsynth can, one piano roll, free-running reconstruction, and every
bad input refused in one line with nothing written. One tiny run per module (a few seconds)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from aekit.modalities import get_modality
from aekit.modalities.melody import inference, render
from aekit.modalities.melody.files import read_windows
from aekit.modalities.melody.midi import MelodyRefused, read_midi
from aekit.modalities.melody.render import find_soundfont
from aekit.modalities.melody.tokens import (
    WINDOW,
    Note,
    join_windows,
    notes_to_tokens,
    tokens_to_notes,
)
from aekit.training.checkpoint import load_run
from tests.conftest import shapes_images
from tests.melody.synth import midi_bytes, mido, scale_notes

HAS_AUDIO = shutil.which("fluidsynth") is not None and find_soundfont() is not None


@pytest.fixture
def audio() -> bool:
    """Asked for by the tests that render WAV (when fluidsynth can: 0.7 s a file here)."""
    return HAS_AUDIO


@pytest.fixture(autouse=True)
def no_audio_unless_asked(request: pytest.FixtureRequest):
    """The other tests skip fluidsynth, which would spend most of their time."""
    if "audio" in request.fixturenames:
        yield
        return
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(render, "midi_to_wav", lambda midi, wav: (None, "no audio: off in tests"))
        yield


def canonical(tokens: np.ndarray) -> np.ndarray:
    """The tokens as a MIDI file can hold them: a NOTE_OFF in silence plays nothing."""
    return notes_to_tokens(tokens_to_notes(tokens), len(tokens))


def read_back(path: Path, steps: int) -> np.ndarray:
    """A written MIDI file as `steps` tokens, read by aekit's own reader when it takes the file;
    a model may play less than 2 bars, or nothing, which read_midi refuses as an input, and
    then the file's note events are read with mido."""
    try:
        notes = read_midi(path).notes
    except MelodyRefused as exc:
        assert exc.reason in ("no notes", "no 2-bar window"), exc
        notes = mido_notes(path)
    return notes_to_tokens(notes, steps)


def mido_notes(path: Path) -> list[Note]:
    midi = mido.MidiFile(path)
    per_step = midi.ticks_per_beat // 4
    notes, tick, sounding = [], 0, {}
    for msg in midi.tracks[0]:
        tick += msg.time
        if msg.type == "note_on" and msg.velocity > 0:
            sounding[msg.note] = tick
        elif msg.type in ("note_on", "note_off"):
            notes.append(Note(sounding.pop(msg.note) // per_step, tick // per_step, msg.note))
    return sorted(notes)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A tiny melody-vae trained on six 4-bar scale tunes, and a tiny image VAE."""
    from aekit.cli import build_run_config
    from aekit.runs import train_run

    root = tmp_path_factory.mktemp("verb-runs")
    tunes = root / "tunes"
    tunes.mkdir()
    for i in range(6):
        (tunes / f"t{i}.mid").write_bytes(midi_bytes(scale_notes(bars=4, start_pitch=55 + 2 * i)))
    images, labels = shapes_images(96, seed=1)
    npz = root / "shapes.npz"
    np.savez(npz, x_train=images[:64, 0], y_train=labels[:64], x_test=images[64:, 0],
             y_test=labels[64:])  # fmt: skip
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CACHE_HOME", str(root / "cache"))
        patch.delenv("AEKIT_DATA", raising=False)
        settings = {"data.name": f"midi:{tunes}", "train.epochs": 5, "train.precision": "fp32"}
        melody = build_run_config("melody-vae", None, settings, [], preset_name="tiny")
        train_run(melody, root / "mel", progress=False, device="cpu")
        settings = {"data.name": str(npz), "train.epochs": 1, "train.batch_size": 32,
                    "train.precision": "fp32", "model.latent_dim": 2}  # fmt: skip
        vae = build_run_config("vae", None, settings, ["model.hidden=[16]"])
        train_run(vae, root / "vae", progress=False, device="cpu")
    torch.set_num_threads(threads)
    return {"mel": root / "mel", "vae": root / "vae", "tunes": tunes, "fresh": fresh(root)}


def fresh(root: Path) -> Path:
    """The melody run with freshly initialised weights: a model whose teacher-forced argmax
    depends on the true previous tokens, so it differs from what it plays on its own."""
    from aekit.models import build_model
    from aekit.training.checkpoint import WEIGHTS, read_run_config, save_tensors_atomic

    run = root / "fresh"
    shutil.copytree(root / "mel", run)
    torch.manual_seed(1)
    model = build_model("melody-vae", read_run_config(run).model)
    save_tensors_atomic(run / WEIGHTS, model.state_dict())
    return run


@pytest.fixture
def tune(tmp_path: Path) -> Path:
    """A 4-bar tune the run has not seen (two back-to-back windows)."""
    path = tmp_path / "tune.mid"
    path.write_bytes(midi_bytes(scale_notes(bars=4, start_pitch=62)))
    return path


def assert_piano_roll(path: Path) -> None:
    from PIL import Image

    with Image.open(path) as image:
        assert image.format == "PNG" and image.width > 100 and image.height > 100


def assert_audio(audio: bool, out: str, wavs: list[Path]) -> None:
    if audio:
        assert all(w.is_file() and w.stat().st_size > 44 for w in wavs), wavs
    else:
        assert "no audio:" in out and not any(w.exists() for w in wavs)


# ----------------------------------------------------------------------------------- sample


def test_sample_writes_the_models_draws_as_midi_wav_and_a_piano_roll(
    runs, tmp_path, run_cli, audio
):
    out = tmp_path / "samples"
    code, stdout, err = run_cli("sample", runs["mel"], "-n", "3", "--temperature", "0.8",
                                "--seed", "4", "--out", out)  # fmt: skip
    assert code == 0, err
    model = load_run(runs["mel"]).model
    drawn = model.sample(3, generator=torch.Generator().manual_seed(4), temperature=0.8).numpy()
    for i, tokens in enumerate(drawn):
        assert np.array_equal(read_back(out / f"sample_{i:02d}.mid", WINDOW), canonical(tokens))
    assert_piano_roll(out / "piano-roll.png")
    assert_audio(audio, stdout, [out / f"sample_{i:02d}.wav" for i in range(3)])
    assert "wrote 3 melodies sampled from the prior N(0, I) (temperature 0.8)" in stdout


def test_sample_at_temperature_zero_is_greedy(runs, tmp_path, run_cli):
    greedy = tmp_path / "greedy"
    code, _, err = run_cli("sample", runs["mel"], "-n", "2", "--temperature", "0", "--out", greedy)
    assert code == 0, err
    model = load_run(runs["mel"]).model
    z = torch.randn(2, model.config.latent_dim, generator=torch.Generator().manual_seed(0))
    for i, tokens in enumerate(model.generate(z, 0).numpy()):
        assert np.array_equal(read_back(greedy / f"sample_{i:02d}.mid", WINDOW), canonical(tokens))


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["--temperature", "-1"], "--temperature must be a finite number >= 0"),
        (["--temperature", "nan"], "--temperature must be a finite number >= 0"),
        (["-n", "0"], "-n must be at least 1"),
        (["--label", "1"], "not conditional"),
        (["--out-is-a-png"], "--out is a directory for melody runs"),
    ],
)
def test_sample_refusals_are_one_line(runs, tmp_path, run_cli, args, fragment):
    out = tmp_path / ("s.png" if args == ["--out-is-a-png"] else "s")
    args = [] if args == ["--out-is-a-png"] else args
    code, _, err = run_cli("sample", runs["mel"], *args, "--out", out)
    assert code == 2 and fragment in err and err.count("\n") == 1, err
    assert err.startswith("aekit: error: ") and not out.exists()


def test_temperature_is_refused_for_an_image_run_and_the_image_rules_hold(runs, tmp_path, run_cli):
    code, _, err = run_cli("sample", runs["vae"], "--temperature", "1", "--out", tmp_path / "s.png")
    assert code == 2 and "--temperature is for melody runs" in err
    assert not (tmp_path / "s.png").exists()
    code, _, err = run_cli("sample", runs["vae"], "-n", "2", "--out", tmp_path / "s")
    assert code == 2 and "--out must be a .png file" in err  # images keep their file rule
    code, _, err = run_cli("sample", runs["vae"], "-n", "2", "--out", tmp_path / "s.png")
    assert code == 0, err


# ------------------------------------------------------------------------------ reconstruct


def test_reconstruct_decodes_free_running_from_the_posterior_mean(runs, tune, tmp_path, run_cli):
    """The windows are decoded by the model on its own (greedy, each step fed its own choice),
    which for an untrained model differs from the teacher-forced argmax."""
    model = load_run(runs["fresh"]).model
    windows = read_windows(tune).windows
    assert len(windows) == 2
    x = torch.from_numpy(windows).long()
    with torch.no_grad():
        z = model.encode(x).mode()
        free = model.generate(z, 0).numpy()
        forced = model(x).logits.argmax(-1).numpy()
    assert not np.array_equal(free, forced)  # the test can tell the two apart

    out = tmp_path / "rec"
    code, stdout, err = run_cli("reconstruct", runs["fresh"], tune, "--out", out)
    assert code == 0, err
    got = read_back(out / "tune.mid", 2 * WINDOW)
    assert np.array_equal(got, canonical(join_windows(free)))
    assert not np.array_equal(got, canonical(join_windows(forced)))
    modality = get_modality("melody")  # what every caller of the modality gets
    assert np.array_equal(modality.reconstruct(model, windows), free)
    assert f"{tune}: 2 windows, 4 bars;" in stdout
    assert_piano_roll(out / "piano-roll.png")
    assert "no audio: off in tests" in stdout and not (out / "tune.wav").exists()


def test_reconstruct_joins_back_to_back_windows_and_takes_the_first_n(runs, tmp_path, run_cli):
    """A 9-bar tune after a pickup: four back-to-back windows (bars 1-8, the pickup and the
    last bar in none), each decoded alone, joined so the file plays each as it was decoded."""
    pickup = [(0, 4, 67)]
    body = [(4 + s, 4 + e, p) for s, e, p in scale_notes(bars=9, start_pitch=60)]
    path = tmp_path / "pickup.mid"
    path.write_bytes(midi_bytes(pickup + body, signatures=[(0, 1, 4), (4, 4, 4)]))
    read = read_windows(path)
    assert read.total == 4 and len(read.windows) == 4
    model = load_run(runs["mel"]).model
    expected = inference.reconstruct(model, read.windows)

    code, stdout, err = run_cli("reconstruct", runs["mel"], path, "--out", tmp_path / "all")
    assert code == 0, err
    got = read_back(tmp_path / "all" / "pickup.mid", 4 * WINDOW)
    for i in range(4):  # each window sounds as decoded: a leading hold is silence, not a tie
        window = got[i * WINDOW : (i + 1) * WINDOW]
        assert np.array_equal(tokens_to_notes(window), tokens_to_notes(expected[i])), i

    code, stdout, err = run_cli("reconstruct", runs["mel"], path, "--windows", "1",
                                "--out", tmp_path / "one")  # fmt: skip
    assert code == 0, err
    assert "1 window (the first 1 of 4), 2 bars" in stdout
    got = read_back(tmp_path / "one" / "pickup.mid", WINDOW)
    assert np.array_equal(got, canonical(expected[0]))


def test_reconstruct_keeps_the_top_line_of_a_polyphonic_file_and_says_so(runs, tmp_path, run_cli):
    path = tmp_path / "chords.mid"
    path.write_bytes(midi_bytes(scale_notes(bars=2), extra_tracks=[[(0, 32, 48), (0, 32, 52)]]))
    code, stdout, err = run_cli("reconstruct", runs["mel"], path, "--out", tmp_path / "r")
    assert code == 0, err
    assert "polyphonic; kept the top line" in stdout and (tmp_path / "r" / "chords.mid").is_file()


# ------------------------------------------------------------------------------ interpolate


def test_interpolate_writes_every_step_a_joined_path_and_a_stacked_piano_roll(
    runs, tune, tmp_path, run_cli, audio
):
    other = runs["tunes"] / "t5.mid"
    out = tmp_path / "path"
    code, stdout, err = run_cli("interpolate", runs["mel"], tune, other, "--steps", "4",
                                "--out", out)  # fmt: skip
    assert code == 0, err
    model = load_run(runs["mel"]).model
    steps = [read_back(out / f"step_{i:02d}.mid", WINDOW) for i in range(4)]
    ends = inference.reconstruct(
        model, np.stack([read_windows(p).windows[0] for p in (tune, other)])
    )
    assert np.array_equal(steps[0], canonical(ends[0]))  # the ends are the two reconstructions
    assert np.array_equal(steps[-1], canonical(ends[1]))
    joined = read_back(out / "path.mid", 4 * WINDOW)
    for i, step in enumerate(steps):
        assert tokens_to_notes(joined[i * WINDOW : (i + 1) * WINDOW]) == tokens_to_notes(step)
    assert_piano_roll(out / "piano-roll.png")
    assert_audio(audio, stdout, [out / f"step_{i:02d}.wav" for i in range(4)] + [out / "path.wav"])
    assert "4 steps spherically" in stdout


def test_interpolate_linearly_when_asked(runs, tune, tmp_path, run_cli):
    code, stdout, err = run_cli("interpolate", runs["mel"], tune, tune, "--steps", "2",
                                "--no-spherical", "--out", tmp_path / "line")  # fmt: skip
    assert code == 0 and "2 steps linearly" in stdout, err
    steps = [read_back(tmp_path / "line" / f"step_{i:02d}.mid", WINDOW) for i in range(2)]
    assert np.array_equal(steps[0], steps[1])  # from a melody to itself: no way to go


# -------------------------------------------------------------------------------- bad input


def bad_files(tmp_path: Path) -> dict[str, Path]:
    files = {
        "junk.mid": b"this is not a MIDI file at all",
        "empty.mid": midi_bytes([]),
        "drums.mid": midi_bytes(scale_notes(bars=3), channel=9),
        "short.mid": midi_bytes(scale_notes(bars=1)),
        "waltz.mid": midi_bytes(scale_notes(bars=3), signatures=[(0, 3, 4)]),
    }
    paths = {}
    for name, data in files.items():
        paths[name] = tmp_path / name
        paths[name].write_bytes(data)
    from aekit.modalities.images.data import write_image

    paths["picture.png"] = tmp_path / "picture.png"
    write_image(paths["picture.png"], shapes_images(1, seed=3)[0][0])
    return paths


REFUSED = [
    ("junk.mid", "not a MIDI file"),
    ("empty.mid", "has no notes"),
    ("drums.mid", "has only drums (channel 10)"),
    ("short.mid", "shorter than 2 bars"),
    ("waltz.mid", "time signature 3/4"),
    ("picture.png", "holds images data (PNG or JPEG images), but the run's model melody-vae "
                    "takes MIDI files"),
]  # fmt: skip


@pytest.mark.parametrize("name, fragment", REFUSED)
def test_bad_files_are_one_line_and_nothing_is_written(
    runs, tmp_path, tune, run_cli, name, fragment
):
    bad = bad_files(tmp_path)[name]
    for command in (
        ["reconstruct", runs["mel"], tune, bad, "--out", tmp_path / "rec"],  # the bad one second
        ["interpolate", runs["mel"], tune, bad, "--out", tmp_path / "path"],
    ):
        code, _, err = run_cli(*command)
        assert code == 2 and err.startswith("aekit: error: ") and err.count("\n") == 1, err
        assert fragment in err, err
        assert not command[-1].exists()


def test_a_midi_file_to_an_image_run_is_one_line(runs, tmp_path, tune, run_cli):
    png = bad_files(tmp_path)["picture.png"]
    expected = "holds melody data (MIDI files), but the run's model vae takes PNG or JPEG images"
    for command in (
        ["reconstruct", runs["vae"], tune, "--out", tmp_path / "rec"],
        ["interpolate", runs["vae"], png, tune, "--out", tmp_path / "i.png"],
    ):
        code, _, err = run_cli(*command)
        assert code == 2 and expected in err and err.count("\n") == 1, err
        assert not command[-1].exists()
    code, _, err = run_cli(
        "reconstruct", runs["vae"], png, "--windows", "2", "--out", tmp_path / "r"
    )
    assert code == 2 and "--windows is for melody runs" in err


def test_options_and_verbs_a_melody_run_has_no_use_for_are_one_line(runs, tmp_path, tune, run_cli):
    cases = [
        (["reconstruct", runs["mel"], tune, "--resize"], "--resize is for image runs"),
        (["reconstruct", runs["mel"], tune, "--windows", "0"], "--windows must be at least 1"),
        (["reconstruct", runs["mel"], tune, tune], "two inputs share a file name"),
        (["interpolate", runs["mel"], tune, tune, "--steps", "1"], "--steps must be at least 2"),
        (["generate", runs["mel"]], "`aekit generate` works on image runs"),
        (["manifold", runs["mel"]], "`aekit manifold` works on image runs"),
        (["embed", runs["mel"]], "`aekit embed` works on image runs"),
    ]
    for args, fragment in cases:
        out = tmp_path / ("o.npz" if args[0] == "embed" else "o.png" if args[0] in
                          ("generate", "manifold") else "o")  # fmt: skip
        code, _, err = run_cli(*args, "--out", out)
        assert code == 2 and fragment in err and err.count("\n") == 1, (args, err)
        assert not out.exists()
    code, _, err = run_cli("reconstruct", runs["mel"], tune, "--out", tune.parent)
    assert code == 2 and "would overwrite the input" in err
