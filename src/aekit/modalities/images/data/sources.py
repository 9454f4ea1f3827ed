"""Named datasets: what each name means, where its files are found, and `load_dataset`.

Names: ``mnist``, ``fashion-mnist``, ``kmnist``, ``digits``, ``cifar10``, ``photos`` (RGB
patches of scikit-image's sample photos, see `photos.py`), ``folder:PATH``, ``npz:PATH``,
``shards:DIR`` (images packed by `aekit pack` and read through memory maps, see `shards.py`),
or simply an existing directory or a path ending .npz/.npy. A built-in name wins over a directory
of the same name; write ``folder:mnist`` to mean the directory.

Where the file-based sets are looked for, first hit wins (each base may hold the files
directly or in a subdirectory named after the dataset, e.g. ``$AEKIT_DATA/fashion-mnist/``):

1. the ``data_dir`` argument
2. the ``AEKIT_DATA`` environment variable
3. the user cache, ``$XDG_CACHE_HOME/aekit/<name>/`` (default ``~/.cache/aekit/<name>/``)
4. system copies, e.g. Debian's ``/usr/share/datasets/fashion-mnist/``
5. a download into the cache, checked against published SHA-256 sums (see `download.py`)

Copies found on disk are validated by parsing (shapes, counts, label ranges), not hashing:
distributions legitimately recompress them.
"""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass
from pathlib import Path

from aekit.cache import cache_root
from aekit.errors import AekitError
from aekit.modalities.images.data import builtin, download, local, photos
from aekit.modalities.images.data.splits import (
    Dataset,
    DatasetInfo,
    ImageSet,
    check_split_args,
    make_dataset,
)


@dataclass(frozen=True)
class _Spec:
    name: str
    description: str
    kind: str  # "idx", "cifar", "digits" or "photos"
    classes: tuple[str, ...]
    system_dirs: tuple[str, ...] = ()
    apt_package: str | None = None


_DIGITS = tuple(str(i) for i in range(10))
_FASHION = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)  # fmt: skip
SPECS: dict[str, _Spec] = {
    s.name: s
    for s in (
        _Spec("mnist", "handwritten digits, 28x28 gray, 60k train / 10k test", "idx", _DIGITS),
        _Spec(
            "fashion-mnist",
            "Zalando clothing, 28x28 gray, 60k train / 10k test",
            "idx",
            _FASHION,
            system_dirs=("/usr/share/datasets/fashion-mnist",),
            apt_package="dataset-fashion-mnist",
        ),
        _Spec(
            "kmnist",
            "Kuzushiji (cursive Japanese) characters, 28x28 gray, 60k train / 10k test",
            "idx",
            # Romanised hiragana from kmnist_classmap.csv: plot fonts rarely have kana.
            ("o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo"),
        ),
        _Spec("digits", "scikit-learn's 8x8 digits, 1797 images, offline", "digits", _DIGITS),
        _Spec(
            "cifar10",
            "tiny photos, 32x32 RGB, 50k train / 10k test",
            "cifar",
            builtin.CIFAR_CLASSES,
        ),
        _Spec(
            "photos",
            "patches of scikit-image's sample photos, 32x32 RGB, 1243 train / 216 test, offline",
            "photos",
            photos.PHOTOS,
        ),
    )
}
SHARDS = "shards:"  # a directory written by `aekit pack` (shards.py)
ALIASES = {
    "fashion": "fashion-mnist",
    "fashionmnist": "fashion-mnist",
    "fmnist": "fashion-mnist",
    "kuzushiji-mnist": "kmnist",
    "cifar-10": "cifar10",
    "sklearn-digits": "digits",
}


def _candidate_dirs(spec: _Spec, data_dir: str | os.PathLike[str] | None) -> list[Path]:
    dirs: list[Path] = []
    for base in (data_dir, os.environ.get("AEKIT_DATA") or None):
        if base is not None:
            b = Path(base).expanduser()
            dirs += [b, b / spec.name, b / spec.name.replace("-", "_")]
    dirs.append(cache_root() / spec.name)
    dirs += [Path(d) for d in spec.system_dirs]
    return dirs


def _locate(spec: _Spec, data_dir: str | os.PathLike[str] | None) -> tuple[Path | None, str]:
    """(directory or archive holding the data, or None; a note on partial copies seen)."""
    partial = ""
    dirs = [d for d in _candidate_dirs(spec, data_dir) if d.is_dir()]
    for d in dirs:
        if spec.kind == "idx":
            missing = builtin.idx_missing(d)
            if not missing:
                return d, ""
            if len(missing) < len(builtin.IDX_STEMS) and not partial:
                partial = f" ({d} lacks {', '.join(missing)})"
        else:  # cifar
            found = builtin.cifar_dir(d)
            if found is not None:
                return found, ""
            if (d / "cifar-10-batches-py").is_dir() and not partial:
                partial = (
                    f" ({d} holds the pickled python version, which aekit never loads; "
                    "it needs the binary version)"
                )
    # An archive only after every place an extracted copy could be: we unpack archives into
    # the cache, and the next load should find that copy instead of unpacking again.
    for d in dirs if spec.kind == "cifar" else []:
        if (d / download.CIFAR10_ARCHIVE).is_file():
            return d / download.CIFAR10_ARCHIVE, ""
    return None, partial


def how_to_get(name: str) -> str:
    """One sentence saying how to make dataset `name` available offline."""
    spec = SPECS[name]
    cache = cache_root() / name
    if spec.kind == "digits":
        return "it ships with scikit-learn: pip install scikit-learn"
    if spec.kind == "photos":
        return "it ships with scikit-image: pip install scikit-image"
    if spec.kind == "cifar":
        return (
            f"download {download.CIFAR10_ARCHIVE} (the binary version) from "
            f"https://www.cs.toronto.edu/~kriz/cifar.html into {cache}/, "
            "or set AEKIT_DATA to a directory holding it or its extracted cifar-10-batches-bin/"
        )
    files = ", ".join(download.IDX_FILES)
    apt = f"apt-get install {spec.apt_package}, or " if spec.apt_package else ""
    return (
        f"{apt}download the four files ({files}) from {download.OFFICIAL_BASE_URLS[name]} "
        f"into {cache}/, or set AEKIT_DATA to a directory holding them"
    )


def _canonical(name: str) -> str:
    key = name.strip().lower().replace("_", "-")
    return ALIASES.get(key, key)


def _unknown(name: str) -> AekitError:
    if os.sep in name or "/" in name or name.startswith((".", "~")):
        return AekitError(f"no such directory or .npz/.npy file: {name!r}")
    known = list(SPECS) + list(ALIASES)
    close = difflib.get_close_matches(_canonical(name), known, n=1, cutoff=0.6)
    hint = f"did you mean {ALIASES.get(close[0], close[0])!r}? " if close else ""
    return AekitError(
        f"unknown dataset {name!r}; {hint}known: {', '.join(SPECS)}, "
        "or folder:PATH, npz:PATH, shards:DIR (written by aekit pack), a directory of images, "
        "or a .npz/.npy file"
    )


def claims(name: str) -> bool:
    """Whether `name` means image data: a built-in name (or alias), ``folder:``/``npz:``/
    ``shards:``, a .npz/.npy path or an existing directory. `aekit.datasets` asks each modality
    this."""
    raw = os.fspath(name)
    if _canonical(raw) in SPECS or raw.startswith(("folder:", "npz:", SHARDS)):
        return True
    path = Path(raw).expanduser()
    return path.suffix.lower() in (".npz", ".npy") or path.is_dir()


def load_dataset(
    name: str,
    *,
    data_dir: str | os.PathLike[str] | None = None,
    val_fraction: float = 0.1,
    test_fraction: float = 0.2,
    seed: int = 0,
    image_size: int | None = None,
    channels: int | None = None,
    limit: int | None = None,
    download: bool = True,
) -> Dataset:
    """Load a dataset by name, split into train / val / test (see `splits.py` for the rules).

    `image_size` resizes every image to image_size x image_size; `channels` forces 1 (gray) or
    3 (RGB); `limit` caps the training images for quick runs; `test_fraction` applies only to
    sources without an official test split; `download=False` never touches the network.
    """
    check_split_args(val_fraction, test_fraction, seed, limit, image_size, channels)
    parts = load_parts(
        name, data_dir=data_dir, image_size=image_size, channels=channels, download=download
    )
    return make_dataset(
        parts.name, parts.pool, parts.test, parts.classes, parts.location,
        val_fraction=val_fraction, test_fraction=test_fraction, seed=seed, limit=limit,
        image_size=None if parts.sized else image_size, channels=channels,
    )  # fmt: skip


@dataclass(frozen=True)
class Parts:
    """A source before its split: the pool train and validation come from, the official test
    split or None, class names, and where it was found. `sized`: the loader already made the
    images `image_size` (folders read them so; photos cut patches of it; packs are checked)."""

    name: str
    pool: ImageSet
    test: ImageSet | None
    classes: tuple[str, ...] | None
    location: str
    sized: bool


def load_parts(
    name: str,
    *,
    data_dir: str | os.PathLike[str] | None = None,
    image_size: int | None = None,
    channels: int | None = None,
    download: bool = True,
) -> Parts:
    """The unsplit source `name` (the names of `load_dataset`). `aekit pack` writes these."""
    raw = os.fspath(name)
    key = _canonical(raw)
    if key in SPECS and SPECS[key].kind == "photos":  # image_size is the patch size, no resize
        pool, test = photos.load_photo_sets(image_size or photos.DEFAULT_PATCH)
        return Parts(key, pool, test, photos.PHOTOS, "scikit-image", True)
    if key in SPECS:
        pool, test, classes, location = _load_builtin(SPECS[key], data_dir, download)
        return Parts(key, pool, test, classes, location, False)
    if raw.startswith(SHARDS):
        return _shards(Path(_after(raw, SHARDS)), image_size, channels)
    folder = folder_path(raw)
    if folder is not None:
        root = folder.expanduser().resolve()
        pool, test, classes = local.load_folder(root, channels, image_size)
        return Parts(f"folder:{root}", pool, test, classes, str(root), True)
    path = Path(_after(raw, "npz:") if raw.startswith("npz:") else raw).expanduser()
    if raw.startswith("npz:") or path.suffix.lower() in (".npz", ".npy"):
        file = path.resolve()
        pool, test, classes = local.load_arrays(file)
        return Parts(f"npz:{file}", pool, test, classes, str(file), False)
    raise _unknown(raw)


def _after(raw: str, prefix: str) -> str:
    rest = raw[len(prefix) :]
    if not rest:
        raise AekitError(f"{raw!r} needs a path after {prefix!r}, e.g. {prefix}./images")
    return rest


def folder_path(name: str) -> Path | None:
    """The directory `name` means when it names a folder of images (``folder:PATH``, or an
    existing directory that is no built-in name), else None."""
    raw = os.fspath(name)
    if raw.startswith("folder:"):
        return Path(_after(raw, "folder:"))
    if _canonical(raw) in SPECS or raw.startswith(("npz:", SHARDS)):
        return None
    path = Path(raw).expanduser()
    return path if path.suffix.lower() not in (".npz", ".npy") and path.is_dir() else None


def _shards(directory: Path, image_size: int | None, channels: int | None) -> Parts:
    from aekit.modalities.images.data.shards import open_pack

    root = directory.expanduser().resolve()
    pack = open_pack(root)
    c, h, w = pack.shape
    sized = image_size is None or (h, w) == (image_size, image_size)
    if not sized or channels not in (None, c):
        want = f"{channels or c}x{image_size or h}x{image_size or w}"
        raise AekitError(
            f"shards:{root} holds {c}x{h}x{w} images, not {want}; a pack is read as packed: "
            "leave the image size and channels unset, or pack the source again at that size"
        )
    return Parts(f"shards:{root}", pack.pool, pack.test, pack.classes, str(root), True)


def _load_builtin(
    spec: _Spec, data_dir: str | os.PathLike[str] | None, allow_download: bool
) -> tuple[ImageSet, ImageSet | None, tuple[str, ...], str]:
    """(training pool, official test split or None, class names, location)."""
    if spec.kind == "digits":
        return builtin.load_digits_set(), None, spec.classes, "scikit-learn"
    if data_dir is not None and not Path(data_dir).expanduser().is_dir():
        # Silently falling back to another copy would hide a typo in --data-dir.
        raise AekitError(f"data_dir {os.fspath(data_dir)!r} is not a directory")
    where, partial = _locate(spec, data_dir)
    if where is None:
        where = _download(spec, partial, allow_download)
    if spec.kind == "idx":
        train, test = builtin.read_idx_set(where)
        return train, test, spec.classes, str(where)
    if where.is_file():  # a CIFAR archive found on disk: unpack once into the cache
        cache = cache_root() / spec.name
        download.safe_extract(where, cache)
        extracted = builtin.cifar_dir(cache)
        if extracted is None:
            raise AekitError(f"{where} does not contain the CIFAR-10 binary batches")
        where = extracted
    train, test, classes = builtin.read_cifar_dir(where)  # names from batches.meta.txt
    return train, test, classes, str(where)


def _download(spec: _Spec, partial: str, allow_download: bool) -> Path:
    """Fetch the dataset into the cache, or explain in one line how to get it."""
    if not allow_download:
        raise AekitError(f"{spec.name} not found{partial}; to get it: {how_to_get(spec.name)}")
    cache = cache_root() / spec.name
    try:
        download.fetch_files(spec.name, cache)
        if spec.kind == "cifar":
            archive = cache / download.CIFAR10_ARCHIVE
            download.safe_extract(archive, cache)
            archive.unlink()  # verified and unpacked; keeping it would double the disk use
    except AekitError as e:
        raise AekitError(
            f"{spec.name} not found{partial} and the download failed ({e}); "
            f"to get it: {how_to_get(spec.name)}"
        ) from None
    found, _ = _locate(spec, cache)
    if found is None:
        raise AekitError(f"{spec.name}: downloaded into {cache} but the files are incomplete")
    return found


def list_datasets(data_dir: str | os.PathLike[str] | None = None) -> list[DatasetInfo]:
    """One row per built-in dataset (and the two path forms), without downloading anything."""
    rows = []
    for spec in SPECS.values():
        if spec.kind in ("digits", "photos"):
            found: str | None = "scikit-learn" if spec.kind == "digits" else "scikit-image"
        else:
            where, _ = _locate(spec, data_dir)
            found = None if where is None else str(where)
        rows.append(DatasetInfo(spec.name, spec.description, found, how_to_get(spec.name)))
    rows.append(
        DatasetInfo(
            "folder:PATH",
            "your PNG/JPEG files; class folders become labels",
            None,
            "pass folder:/path/to/images (or just the directory)",
        )
    )
    rows.append(
        DatasetInfo(
            "npz:PATH",
            "your arrays: x_train/x_test (+y_*), images (+labels) or x (+y)",
            None,
            "np.savez('data.npz', x_train=..., y_train=...) and pass the file",
        )
    )
    return rows
