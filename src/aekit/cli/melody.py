"""`aekit sample | reconstruct | interpolate` on melody runs: MIDI, WAV and a piano roll.

The verbs are the image verbs (cli/latent.py, cli/images.py); each asks the run's modality first
and hands melody runs to the functions here. For a melody run --out is a directory, created,
holding per melody ``<name>.mid``, ``<name>.wav`` when fluidsynth and a General MIDI soundfont
are there (otherwise one line says so; the MIDI is written all the same) and one piano roll,
``piano-roll.png``, for the set (inputs above outputs). Every input is read, checked and decoded
before the directory is made, so a bad file or option leaves nothing behind.

Reconstruction and interpolation decode posterior means greedily and free-running
(`aekit.modalities.melody.inference`): what the model plays on its own, not the teacher-forced
argmax that training scores.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import typer

from aekit.errors import AekitError

PIANO_ROLL = "piano-roll.png"
PICTURE_WINDOWS = 8  # windows of each file shown in reconstruct's piano roll: 16 bars stay legible
OUTPUT_SUFFIXES = (".png", ".mid", ".midi", ".wav")  # file names, not directories
DEFAULT_SAMPLES = 8  # MIDI and WAV files, listened to one by one: fewer than a grid of images


def run_modality(run: Path) -> str | None:
    """The modality a run records, or None when its config cannot be read: the image verb then
    loads it as before and says why in its own words."""
    from aekit.training.checkpoint import read_run_config

    try:
        return read_run_config(Path(run)).modality
    except AekitError:
        return None


def is_melody_run(run: Path) -> bool:
    return run_modality(run) == "melody"


def out_directory(out: Path) -> Path:
    """--out for a melody run: a directory (made when the outputs are ready)."""
    if out.exists() and not out.is_dir():
        raise AekitError(f"--out is a directory for melody runs, but {out} is a file")
    if out.suffix.lower() in OUTPUT_SUFFIXES:
        raise AekitError(
            f"--out is a directory for melody runs (MIDI, WAV and {PIANO_ROLL} go into it), "
            f"got {out}"
        )
    return out


def no_image_options(resize: bool, label: int | None, model: Any) -> None:
    """Refuse the image verbs' options a melody model has no use for, one line each."""
    if resize:
        raise AekitError("--resize is for image runs; MIDI files are read as they are")
    if label is not None:
        name = type(model).__name__
        raise AekitError(f"--label: this {name} is not conditional, it takes no label")


def read_file(path: Path, loaded: Any, limit: int | None = None):
    """A user's MIDI file as back-to-back windows, refused in one line when it is not MIDI (an
    image, say) or holds no usable melody (midi.read_midi's checks)."""
    from aekit.modalities import check_file_for
    from aekit.modalities.melody.files import read_windows

    check_file_for(path, "melody", loaded.config.model_name)
    return read_windows(path, limit)


def write_set(
    out: Path,
    melodies: list[tuple[str, np.ndarray]],
    rows: list[np.ndarray],
    labels: list[str],
    title: str,
) -> str:
    """Write <stem>.mid (+ .wav) per melody and the piano roll of `rows`; what was written.
    Audio that cannot be made is said once, and not tried again for the rest of the set."""
    from aekit.modalities.melody.render import piano_roll, write_melody

    out.mkdir(parents=True, exist_ok=True)
    wavs, audio, why = 0, True, ""
    for stem, tokens in melodies:
        paths, message = write_melody(out, stem, tokens, audio=audio)
        wavs += "wav" in paths
        if message:
            audio, why = False, message
    piano_roll(out / PIANO_ROLL, rows, labels, title=title)
    if why:
        typer.echo(why)
    sound = f", {wavs} WAV files" if wavs else ""
    return f"{len(melodies)} MIDI files{sound} and {PIANO_ROLL}"


def numbered(prefix: str, n: int) -> list[str]:
    width = max(2, len(str(n - 1)))
    return [f"{prefix}_{i:0{width}d}" for i in range(n)]


# ------------------------------------------------------------------------------------- verbs


def sample(loaded: Any, out: Path, n: int | None, seed: int, temperature: float | None) -> None:
    """n melodies from z ~ N(0, I), each step drawn at `temperature` (0: greedy)."""
    import torch

    out = out_directory(out)
    n = DEFAULT_SAMPLES if n is None else n
    if n < 1:
        raise AekitError(f"-n must be at least 1, got {n}")
    t = 1.0 if temperature is None else temperature
    if not (math.isfinite(t) and t >= 0):
        raise AekitError(f"--temperature must be a finite number >= 0 (0: greedy), got {t}")
    generator = torch.Generator().manual_seed(seed)
    tokens = loaded.model.sample(n, generator=generator, temperature=t)
    melodies = list(tokens.to(torch.uint8).cpu().numpy())
    names = numbered("sample", n)
    how = "greedy" if t == 0 else f"temperature {t:g}"
    wrote = write_set(out, list(zip(names, melodies, strict=True)), melodies, names,
                      f"{n} samples, z ~ N(0, I), {how}")  # fmt: skip
    typer.echo(f"wrote {n} melodies sampled from the prior N(0, I) ({how}): {wrote} to {out}")


def reconstruct(
    loaded: Any, files: list[Path], out: Path, windows: int | None, resize: bool, label: int | None
) -> None:
    """Each file's back-to-back windows (the first `windows`), reconstructed and joined into
    one MIDI file per input."""
    from aekit.modalities.melody.inference import reconstruct as decode_windows
    from aekit.modalities.melody.tokens import join_windows

    out = out_directory(out)
    no_image_options(resize, label, loaded.model)
    targets = [out / f"{f.stem}.mid" for f in files]
    clash = {t.resolve() for t in targets} & {f.resolve() for f in files}
    if clash:
        first = sorted(clash)[0]
        raise AekitError(f"--out would overwrite the input {first}; choose another --out")
    if len({t.name for t in targets}) != len(targets):
        raise AekitError("two inputs share a file name; their outputs would overwrite each other")
    read = [read_file(f, loaded, windows) for f in files]  # every file checked before any work
    outputs = decode_windows(loaded.model, np.concatenate([r.windows for r in read]))
    melodies, rows, labels = [], [], []
    at = 0
    for f, r in zip(files, read, strict=True):
        mine = outputs[at : at + len(r.windows)]
        at += len(r.windows)
        melodies.append((f.stem, join_windows(mine)))
        rows += [join_windows(r.windows[:PICTURE_WINDOWS]), join_windows(mine[:PICTURE_WINDOWS])]
        labels += [f"{f.stem} in", f"{f.stem} out"]
        for message in r.messages:
            typer.echo(message)
        k = len(r.windows)
        of = f" (the first {k} of {r.total})" if k < r.total else ""
        same = float((mine == r.windows).mean())
        typer.echo(f"{f}: {k} window{'s' * (k > 1)}{of}, {2 * k} bars; {same:.1%} of steps "
                   "decoded as in the input")  # fmt: skip
    long = any(len(r.windows) > PICTURE_WINDOWS for r in read)
    shown = f", the first {PICTURE_WINDOWS} windows of each file" if long else ""
    wrote = write_set(out, melodies, rows, labels,
                      f"input above reconstruction (posterior mean, greedy){shown}")  # fmt: skip
    typer.echo(f"wrote {wrote} to {out} (posterior means, greedy free-running decoding)")


def interpolate(
    loaded: Any,
    first: Path,
    last: Path,
    out: Path,
    steps: int,
    spherical: bool | None,
    resize: bool,
    label: int | None,
) -> None:
    """`steps` codes from the first window of one file to the first window of another (both
    posterior means; spherical unless told otherwise), each decoded greedily."""
    from aekit.latent.generation import interpolate_codes
    from aekit.modalities.melody.inference import greedy_decode, posterior_means
    from aekit.modalities.melody.tokens import join_windows

    out = out_directory(out)
    no_image_options(resize, label, loaded.model)
    spherical = True if spherical is None else spherical
    ends = [read_file(p, loaded, 1) for p in (first, last)]
    codes = posterior_means(loaded.model, np.concatenate([e.windows for e in ends]))
    path = greedy_decode(loaded.model, interpolate_codes(codes[:1], codes[1:], steps, spherical))
    names = numbered("step", steps)
    melodies = [*zip(names, path, strict=True), ("path", join_windows(path))]
    rows = [ends[0].windows[0], ends[1].windows[0], *path]
    labels = [f"A {first.name}", f"B {last.name}", *names]
    how = "spherically" if spherical else "linearly"
    wrote = write_set(out, melodies, rows, labels, f"A and B, then {steps} codes {how} from A to B")
    typer.echo(f"wrote {steps} steps {how} from {first.name} to {last.name} (their first "
               f"windows' posterior means, decoded greedily), path.mid playing them in turn: "
               f"{wrote} to {out}")  # fmt: skip
