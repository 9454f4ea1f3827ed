"""Verified downloads of the named datasets, and safe extraction of the CIFAR-10 archive.

Nothing downloaded is trusted without a SHA-256 check against `OFFICIAL_SHA256` (or the table
a caller passes instead, as the tests do with a local mirror). A file whose checksum is not
known is refused rather than used unverified. Bytes go to a hidden temporary file beside the
target and are renamed into place only after the checksum matched, so an interrupted or
corrupt download never leaves a file under the real name.

Base URLs can be redirected per dataset with ``AEKIT_MIRROR_<NAME>`` (``AEKIT_MIRROR_MNIST``,
``AEKIT_MIRROR_FASHION_MNIST``, ...): the file names and checksums stay the same.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import sys
import tarfile
import urllib.error
import urllib.request
import zlib
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from aekit.atomic import atomic_write
from aekit.cache import sha256_file
from aekit.errors import AekitError

IDX_FILES = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)
CIFAR10_ARCHIVE = "cifar-10-binary.tar.gz"

OFFICIAL_BASE_URLS: dict[str, str] = {
    # PyTorch's S3 mirror of yann.lecun.com/exdb/mnist/ (same files, byte for byte).
    "mnist": "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "fashion-mnist": "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    "kmnist": "http://codh.rois.ac.jp/kmnist/dataset/kmnist/",
    # The BINARY distribution. The "python version" next to it is pickled; never use it.
    "cifar10": "https://www.cs.toronto.edu/~kriz/",
}

DOWNLOAD_FILES: dict[str, tuple[str, ...]] = {
    "mnist": IDX_FILES,
    "fashion-mnist": IDX_FILES,
    "kmnist": IDX_FILES,
    "cifar10": (CIFAR10_ARCHIVE,),
}

# Published SHA-256 checksums, {dataset: {file name: sha256}}. Sources:
# - TensorFlow Datasets, tensorflow/datasets, tensorflow_datasets/url_checksums/<name>.txt
#   (lines "URL  size  sha256"): mnist.txt (its cvdf-datasets mirror serves the same four
#   files, sizes 9912422 / 28881 / 1648877 / 4542), fashion_mnist.txt, kmnist.txt, cifar10.txt
#   (cifar-10-binary.tar.gz, 170052171 bytes).
# - Cross-checked: the MNIST values also appear in torchvision-ruby (mirror list starting with
#   ossci-datasets.s3.amazonaws.com/mnist/), the KMNIST values in torchvision-ruby's KMNIST,
#   the Fashion-MNIST values in torchtext-style `_CHECKSUMS` tables, the CIFAR-10 binary value
#   in MLDatasets.jl.
# Debian's dataset-fashion-mnist package recompresses the .gz files (different bytes, same
# images), so copies found on disk are validated by parsing, never by these hashes.
OFFICIAL_SHA256: dict[str, dict[str, str]] = {
    "mnist": {
        "train-images-idx3-ubyte.gz": (
            "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609"
        ),
        "train-labels-idx1-ubyte.gz": (
            "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c"
        ),
        "t10k-images-idx3-ubyte.gz": (
            "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6"
        ),
        "t10k-labels-idx1-ubyte.gz": (
            "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6"
        ),
    },
    "fashion-mnist": {
        "train-images-idx3-ubyte.gz": (
            "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84"
        ),
        "train-labels-idx1-ubyte.gz": (
            "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845"
        ),
        "t10k-images-idx3-ubyte.gz": (
            "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073"
        ),
        "t10k-labels-idx1-ubyte.gz": (
            "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5"
        ),
    },
    "kmnist": {
        "train-images-idx3-ubyte.gz": (
            "51467d22d8cc72929e2a028a0428f2086b092bb31cfb79c69cc0a90ce135fde4"
        ),
        "train-labels-idx1-ubyte.gz": (
            "e38f9ebcd0f3ebcdec7fc8eabdcdaef93bb0df8ea12bee65224341c8183d8e17"
        ),
        "t10k-images-idx3-ubyte.gz": (
            "edd7a857845ad6bb1d0ba43fe7e794d164fe2dce499a1694695a792adfac43c5"
        ),
        "t10k-labels-idx1-ubyte.gz": (
            "20bb9a0ef54c7db3efc55a92eef5582c109615df22683c380526788f98e42a1c"
        ),
    },
    "cifar10": {
        CIFAR10_ARCHIVE: "c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd",
    },
}

# The largest official file is CIFAR-10's 170 MB archive; anything much bigger is not it.
MAX_DOWNLOAD_BYTES = 256 * 2**20
# The extracted CIFAR-10 binary batches are 184 MB in all.
MAX_EXTRACT_BYTES = 512 * 2**20
TIMEOUT_SECONDS = 30.0


def mirror_env_var(name: str) -> str:
    """``fashion-mnist`` -> ``AEKIT_MIRROR_FASHION_MNIST``."""
    return "AEKIT_MIRROR_" + re.sub(r"[^A-Z0-9]", "_", name.upper())


def base_url(name: str) -> str:
    """The base URL for a dataset's files: the mirror override if set, else the official one."""
    url = os.environ.get(mirror_env_var(name)) or OFFICIAL_BASE_URLS[name]
    return url if url.endswith("/") else url + "/"


def download_file(
    url: str,
    dest: Path,
    sha256: str | None,
    *,
    timeout: float = TIMEOUT_SECONDS,
    max_bytes: int = MAX_DOWNLOAD_BYTES,
) -> Path:
    """Download `url` to `dest` if and only if its SHA-256 equals `sha256`.

    Raises `AekitError` for HTTP errors, network failures, oversized responses, a missing
    checksum, and a checksum mismatch (with the expected and actual hash). On any failure
    no file is left at `dest` or beside it.
    """
    if not url.startswith(("http://", "https://")):
        raise AekitError(f"refusing to download {url!r}: only http:// and https:// URLs")
    if sha256 is None:
        raise AekitError(
            f"no published SHA-256 is known for {url}, and aekit does not use unverified "
            f"downloads; fetch the file yourself and put it in {dest.parent}"
        )
    dest.parent.mkdir(parents=True, exist_ok=True)
    request = urllib.request.Request(url, headers={"User-Agent": "aekit"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            total = int(response.headers.get("Content-Length") or 0)
            if total > max_bytes:
                raise AekitError(
                    f"{url} is {total} bytes, over the {max_bytes} byte download limit"
                )
            _stream_to(response, dest, url, total, max_bytes, expected=sha256.lower())
    except urllib.error.HTTPError as e:
        raise AekitError(f"download of {url} failed: HTTP {e.code} {e.reason}") from None
    except urllib.error.URLError as e:
        raise AekitError(f"cannot reach {url}: {e.reason}") from None
    except (TimeoutError, OSError) as e:
        raise AekitError(f"download of {url} failed: {e}") from None
    return dest


def _stream_to(
    response: BinaryIO, dest: Path, url: str, total: int, max_bytes: int, expected: str
) -> None:
    """Copy the response into a temp file beside `dest`, hashing; rename only if it matches."""
    show = sys.stderr.isatty()
    h = hashlib.sha256()
    got = 0
    with atomic_write(dest) as out:  # an exception below deletes the temp file
        while chunk := response.read(1 << 20):
            got += len(chunk)
            if got > max_bytes:
                raise AekitError(f"{url} sent more than the {max_bytes} byte download limit")
            h.update(chunk)
            out.write(chunk)
            if show:
                of = f"/{total / 1e6:.1f}" if total else ""
                print(f"\rdownloading {dest.name}: {got / 1e6:.1f}{of} MB", end="", file=sys.stderr)
        if show:
            print(file=sys.stderr)
        actual = h.hexdigest()
        if actual != expected:
            raise AekitError(
                f"checksum mismatch for {url}: expected sha256 {expected}, got {actual}; "
                "the download is corrupt or the mirror serves a different file (nothing was kept)"
            )


def fetch_files(
    name: str,
    dest_dir: Path,
    *,
    checksums: Mapping[str, Mapping[str, str]] = OFFICIAL_SHA256,
    timeout: float = TIMEOUT_SECONDS,
) -> Path:
    """Download every file of dataset `name` missing (or corrupt) in `dest_dir`; return it.

    Files already present with the right checksum are kept, so an interrupted multi-file
    download resumes where it stopped.
    """
    table = checksums.get(name, {})
    base = base_url(name)
    for filename in DOWNLOAD_FILES[name]:
        target = dest_dir / filename
        expected = table.get(filename)
        if target.is_file() and expected is not None and sha256_file(target) == expected.lower():
            continue
        download_file(base + filename, target, expected, timeout=timeout)
    return dest_dir


def _member_parts(member: tarfile.TarInfo, archive: Path) -> tuple[str, ...]:
    """The member's path parts, refusing anything that could land outside the target."""
    name = member.name
    parts = PurePosixPath(name).parts
    if name.startswith(("/", "\\")) or ".." in parts or any("\\" in p or ":" in p for p in parts):
        raise AekitError(f"unsafe path {name!r} in archive {archive}; refusing to extract it")
    return parts


def safe_extract(archive: Path, dest_dir: Path) -> Path:
    """Extract the regular files of a tar archive into `dest_dir`; return `dest_dir`.

    Symlinks, hard links, devices and FIFOs are skipped; absolute paths and ``..`` are refused.
    Each file is written atomically, so an interrupted extraction leaves whole files only.
    """
    written = 0
    try:
        with tarfile.open(archive, "r:*") as tar:
            for member in tar:
                parts = _member_parts(member, archive)
                if not member.isfile() or not parts:
                    continue
                written += member.size
                if written > MAX_EXTRACT_BYTES:
                    raise AekitError(
                        f"archive {archive} unpacks to more than {MAX_EXTRACT_BYTES} bytes; "
                        "it is not the CIFAR-10 binary archive"
                    )
                target = dest_dir.joinpath(*parts)
                target.parent.mkdir(parents=True, exist_ok=True)
                src = tar.extractfile(member)
                if src is None:
                    continue
                with src, atomic_write(target) as out:
                    shutil.copyfileobj(src, out, 1 << 20)
    except (tarfile.TarError, EOFError, zlib.error) as e:
        raise AekitError(f"corrupt archive {archive} ({e}); delete it and fetch it again") from None
    except OSError as e:
        raise AekitError(f"cannot extract {archive}: {e}") from None
    return dest_dir
