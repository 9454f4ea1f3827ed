"""`aekit generate | perturb | latent-plot | sample | interpolate | manifold`: looking inside a
trained autoencoder's code space. `sample` and `interpolate` hand melody runs to cli/melody.py;
the others draw images and refuse other runs in one line."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import numpy as np
import typer

from aekit.cli import melody
from aekit.cli.common import DataDir, OtherData, RunDir, Split, app
from aekit.cli.images import Label, label_array, load_autoencoder, read_for_model, run_split
from aekit.core.spec import spec_for
from aekit.errors import AekitError

Seed = Annotated[int, typer.Option(help="Seed of the random draws.")]


def load_variational(run: Path, what_for: str, command: str | None):
    """A run of a variational model (one with a prior), or one line saying why not; `command`
    names the image verb it is loaded for (refusing other modalities), None for any modality."""
    loaded = load_autoencoder(run, command)
    if not spec_for(loaded.model).has_prior:
        raise AekitError(
            f"run {run} ({loaded.config.model_name}) has no prior {what_for}: it is not "
            "variational; use a vae, conv-vae or cvae run (`aekit generate` suits a plain one)"
        )
    return loaded


def encode_file(loaded, path: Path, resize: bool, labels: np.ndarray | None):
    """A file as the model's (1, C, H, W) uint8 input, read by the run's modality, and its
    code (posterior mean), encoded with the first of `labels` (conditional models)."""
    import torch

    from aekit.inference import embed
    from aekit.modalities import check_file_for

    check_file_for(path, loaded.config.modality, loaded.config.model_name)
    picture = read_for_model(path, loaded.model, resize, loaded.config.modality)[None]
    one = None if labels is None else labels[:1]
    return picture, torch.from_numpy(embed(loaded.model, picture, labels=one))


def training_codes(loaded, data_dir: Path | None):
    """The Gaussian fitted to the codes of the run's training images (`generate`, `perturb`)."""
    from aekit.latent.generation import fit_codes

    train = run_split(loaded, None, data_dir, "train")[1]
    return fit_codes(loaded.model, train.rows, labels=train.labels)


def png_path(out: Path) -> Path:
    if out.suffix.lower() != ".png":
        raise AekitError(f"--out must be a .png file, got {out}")
    return out


@app.command()
def generate(
    run: RunDir,
    out: Annotated[Path, typer.Option("--out", help="PNG grid to write.")],
    n: Annotated[int, typer.Option("-n", help="How many images.")] = 16,
    seed: Seed = 0,
    data_dir: DataDir = None,
    label: Label = None,
) -> None:
    """Decode random codes drawn from a Gaussian fitted to the training codes."""
    import torch

    from aekit.latent.generation import decode_codes, sample_codes
    from aekit.reports.plots import save_grid

    out = png_path(out)
    loaded = load_autoencoder(run, "generate")
    labels = label_array(loaded.model, label, n)
    dist = training_codes(loaded, data_dir)
    codes = sample_codes(dist, n, torch.Generator().manual_seed(seed))
    save_grid(out, decode_codes(loaded.model, codes, labels).numpy())
    typer.echo(f"wrote {n} generated images to {out} (codes ~ N(mean, cov) of training codes)")


@app.command()
def perturb(
    run: RunDir,
    image: Annotated[Path, typer.Argument(help="A PNG or JPEG image.")],
    out: Annotated[Path, typer.Option("--out", help="PNG strip to write.")],
    sigma: Annotated[
        float, typer.Option(help="Noise, in training-code standard deviations.")
    ] = 0.5,
    n: Annotated[int, typer.Option("-n", help="How many perturbed decodings.")] = 8,
    seed: Seed = 0,
    resize: Annotated[bool, typer.Option(help="Resize the image to the model's size.")] = False,
    data_dir: DataDir = None,
    label: Label = None,
) -> None:
    """Encode an image, add noise to its code and decode: input, reconstruction, n variations."""
    import torch

    from aekit.latent.generation import decode_codes, perturb_codes
    from aekit.reports.plots import save_grid

    out = png_path(out)
    loaded = load_autoencoder(run, "perturb")
    labels = label_array(loaded.model, label, n)
    picture, code = encode_file(loaded, image, resize, labels)
    dist = training_codes(loaded, data_dir)
    codes = perturb_codes(code, dist, sigma, n, torch.Generator().manual_seed(seed))
    decoded = decode_codes(loaded.model, codes, labels).numpy()
    reconstruction = decode_codes(loaded.model, code, None if labels is None else labels[:1])
    strip = [picture / 255.0, reconstruction.numpy(), decoded]
    save_grid(out, np.concatenate(strip), ncols=n + 2)
    typer.echo(f"wrote input, reconstruction and {n} decodings at sigma {sigma} to {out}")


@app.command(name="latent-plot")
def latent_plot(
    run: RunDir,
    out: Annotated[Path, typer.Option("--out", help="PNG scatter to write.")],
    data: OtherData = None,
    data_dir: DataDir = None,
    split: Split = "test",
    limit: Annotated[int, typer.Option(help="Plot at most N images.")] = 5000,
) -> None:
    """Scatter the codes of a split by class (larger codes: their first two principal axes)."""
    from aekit.inference import embed
    from aekit.latent.plane import fit_plane
    from aekit.reports.plots import save_scatter

    out = png_path(out)
    loaded = load_autoencoder(run, "latent-plot")
    dataset, subset = run_split(loaded, data, data_dir, split)
    images = subset.rows[:limit]
    labels = None if subset.labels is None else subset.labels[:limit]
    codes = embed(loaded.model, images, labels=labels).reshape(images.shape[0], -1)
    plane = fit_plane(codes)
    how = plane.describe(codes.shape[1])
    title = f"{loaded.config.model_name} codes of {dataset.name} ({split}, {len(images)}): {how}"
    save_scatter(out, plane.project(codes), labels, dataset.classes, title, plane.axes)
    typer.echo(f"wrote {out}")


@app.command()
def sample(
    run: RunDir,
    out: Annotated[
        Path, typer.Option("--out", help="PNG grid to write (melody runs: a directory).")
    ],
    n: Annotated[
        int | None, typer.Option("-n", help="How many (default: 64 images, 8 melodies).")
    ] = None,
    seed: Seed = 0,
    label: Label = None,
    temperature: Annotated[
        float | None,
        typer.Option(help="Melody runs: softmax temperature of each step (default 1; 0: greedy)."),
    ] = None,
) -> None:
    """Decode codes drawn from a variational model's prior, N(0, I) (melodies: MIDI and WAV)."""
    import torch

    from aekit.reports.plots import save_grid

    if melody.is_melody_run(run):
        loaded = load_variational(run, "to sample from", None)
        label_array(loaded.model, label, 1)  # a --label is refused in one line
        melody.sample(loaded, out, n, seed, temperature)
        return
    out = png_path(out)
    loaded = load_variational(run, "to sample from", "sample")
    if temperature is not None:
        raise AekitError(
            f"--temperature is for melody runs, whose decoder draws each note; run {run} "
            f"({loaded.config.model_name}) decodes images deterministically"
        )
    n = 64 if n is None else n
    if n < 1:
        raise AekitError(f"-n must be at least 1, got {n}")
    labels = label_array(loaded.model, label, n)
    y = None if labels is None else torch.from_numpy(labels)
    images = loaded.model.sample(n, y, generator=torch.Generator().manual_seed(seed))
    save_grid(out, images.numpy())
    typer.echo(f"wrote {n} samples from the prior N(0, I) to {out}")


@app.command()
def interpolate(
    run: RunDir,
    first: Annotated[Path, typer.Argument(help="Start image (PNG or JPEG; melody runs: MIDI).")],
    last: Annotated[Path, typer.Argument(help="End image (melody runs: MIDI file).")],
    out: Annotated[
        Path, typer.Option("--out", help="PNG strip to write (melody runs: a directory).")
    ],
    steps: Annotated[int, typer.Option(help="Decoded codes, ends included.")] = 10,
    spherical: Annotated[
        bool | None,
        typer.Option(help="slerp instead of a straight line (default: images no, melodies yes)."),
    ] = None,
    resize: Annotated[bool, typer.Option(help="Resize the images to the model's size.")] = False,
    label: Label = None,
) -> None:
    """Decode codes on the way from one image's (or melody's) posterior mean to another's."""
    from aekit.latent.generation import decode_codes, interpolate_codes
    from aekit.reports.plots import save_grid

    if melody.is_melody_run(run):
        loaded = load_autoencoder(run, None)
        melody.interpolate(loaded, first, last, out, steps, spherical, resize, label)
        return
    spherical = bool(spherical)
    out = png_path(out)
    loaded = load_autoencoder(run, "interpolate")
    labels = label_array(loaded.model, label, steps)
    (a, za), (b, zb) = (encode_file(loaded, p, resize, labels) for p in (first, last))
    codes = interpolate_codes(za, zb, steps, spherical)
    strip = decode_codes(loaded.model, codes, labels).numpy()
    save_grid(out, np.concatenate([a / 255.0, strip, b / 255.0]), ncols=steps + 2)
    how = "spherically" if spherical else "linearly"
    typer.echo(f"wrote {first.name}, {steps} codes {how} between, {last.name} to {out}")


@app.command()
def manifold(
    run: RunDir,
    out: Annotated[Path, typer.Option("--out", help="PNG grid to write.")],
    size: Annotated[int, typer.Option(help="Grid side.")] = 15,
    dims: Annotated[str, typer.Option(help="Two latent dimensions, e.g. 0,1.")] = "0,1",
    base: Annotated[
        Path | None, typer.Option(help="Fix the other dimensions at this image's code.")
    ] = None,
    label: Label = None,
) -> None:
    """Decode a grid over two latent dimensions of a variational model (Gaussian quantiles)."""
    from aekit.latent.generation import decode_codes, manifold_codes
    from aekit.reports.plots import save_grid

    out = png_path(out)
    loaded = load_variational(run, "whose quantiles a grid could follow", "manifold")
    try:
        i, j = (int(d) for d in dims.split(","))
    except ValueError:
        raise AekitError(f"--dims takes two integers like 0,1, got {dims!r}") from None
    labels = label_array(loaded.model, label, size * size)
    base_code = None if base is None else encode_file(loaded, base, False, labels)[1]
    codes = manifold_codes(size, loaded.model.config.latent_dim, (i, j), base_code)
    save_grid(out, decode_codes(loaded.model, codes, labels).numpy(), ncols=size)
    typer.echo(f"wrote a {size}x{size} manifold over latent dimensions {i} and {j} to {out}")
