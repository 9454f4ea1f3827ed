"""Downloads against a real HTTP server on 127.0.0.1 serving tiny files made by the test.

The official checksum table is never used here: each test passes (or patches in) a table
for the files it serves, which is exactly how the code is meant to be pointed at a mirror.
"""

from __future__ import annotations

import functools
import hashlib
import http.server
import io
import socket
import tarfile
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from aekit.errors import AekitError
from aekit.modalities.images.data import download, load_dataset, write_idx
from aekit.modalities.images.data.download import (
    IDX_FILES,
    download_file,
    fetch_files,
    mirror_env_var,
)
from aekit.modalities.images.data.sources import cache_root


class _Handler(http.server.SimpleHTTPRequestHandler):
    """Serves a directory and records each requested path on the server."""

    def log_message(self, *args) -> None:  # keep test output clean
        pass

    def do_GET(self) -> None:
        self.server.requests.append(self.path)  # type: ignore[attr-defined]
        super().do_GET()


class Server:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.requests: list[str] = []
        handler = functools.partial(_Handler, directory=str(root))
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.requests = self.requests  # type: ignore[attr-defined]
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    root = tmp_path / "served"
    root.mkdir()
    s = Server(root)
    s.thread.start()
    yield s
    s.httpd.shutdown()
    s.httpd.server_close()


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def serve_idx_set(root: Path, n: int = 30) -> dict[str, str]:
    rng = np.random.default_rng(0)
    write_idx(root / IDX_FILES[0], rng.integers(0, 256, (n, 4, 4), dtype=np.uint8))
    write_idx(root / IDX_FILES[1], rng.integers(0, 10, n).astype(np.uint8))
    write_idx(root / IDX_FILES[2], rng.integers(0, 256, (5, 4, 4), dtype=np.uint8))
    write_idx(root / IDX_FILES[3], rng.integers(0, 10, 5).astype(np.uint8))
    return {f: sha(root / f) for f in IDX_FILES}


def files_in(d: Path) -> list[str]:
    return sorted(p.name for p in d.iterdir()) if d.exists() else []


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


def test_mirror_env_var_names() -> None:
    assert mirror_env_var("mnist") == "AEKIT_MIRROR_MNIST"
    assert mirror_env_var("fashion-mnist") == "AEKIT_MIRROR_FASHION_MNIST"


def test_fetch_then_load(server: Server, tmp_path: Path, monkeypatch) -> None:
    table = {"mnist": serve_idx_set(server.root)}
    monkeypatch.setenv("AEKIT_MIRROR_MNIST", server.url.rstrip("/"))  # slash is optional
    dest = tmp_path / "dest"
    fetch_files("mnist", dest, checksums=table)
    assert files_in(dest) == sorted(IDX_FILES)
    for f in IDX_FILES:
        assert (dest / f).read_bytes() == (server.root / f).read_bytes()
    ds = load_dataset("mnist", data_dir=dest, download=False)
    assert len(ds.train) + len(ds.val) == 30 and len(ds.test) == 5


def test_fetch_skips_files_already_verified(server: Server, tmp_path: Path, monkeypatch) -> None:
    table = {"mnist": serve_idx_set(server.root)}
    monkeypatch.setenv("AEKIT_MIRROR_MNIST", server.url)
    fetch_files("mnist", tmp_path / "d", checksums=table)
    (tmp_path / "d" / IDX_FILES[3]).write_bytes(b"corrupted")
    server.requests.clear()
    fetch_files("mnist", tmp_path / "d", checksums=table)
    assert server.requests == [f"/{IDX_FILES[3]}"]  # only the bad one again
    assert sha(tmp_path / "d" / IDX_FILES[3]) == table["mnist"][IDX_FILES[3]]


def test_load_dataset_downloads_into_cache(server: Server, monkeypatch) -> None:
    monkeypatch.setitem(download.OFFICIAL_SHA256, "kmnist", serve_idx_set(server.root))
    monkeypatch.setenv("AEKIT_MIRROR_KMNIST", server.url)
    ds = load_dataset("kmnist")
    assert ds.location == str(cache_root() / "kmnist")
    assert files_in(cache_root() / "kmnist") == sorted(IDX_FILES)
    server.requests.clear()
    load_dataset("kmnist")  # found in the cache now: no request
    assert server.requests == []


def test_checksum_mismatch_keeps_nothing(server: Server, tmp_path: Path) -> None:
    (server.root / "f.bin").write_bytes(b"hello")
    wrong = "0" * 64
    with pytest.raises(AekitError) as info:
        download_file(server.url + "f.bin", tmp_path / "d" / "f.bin", wrong)
    msg = str(info.value)
    assert wrong in msg and sha(server.root / "f.bin") in msg and "\n" not in msg
    assert files_in(tmp_path / "d") == []  # no file, no temp file


def test_http_404(server: Server, tmp_path: Path) -> None:
    with pytest.raises(AekitError, match="HTTP 404"):
        download_file(server.url + "missing.gz", tmp_path / "d" / "missing.gz", "0" * 64)
    assert files_in(tmp_path / "d") == []


def test_unknown_checksum_is_refused_without_downloading(server: Server, tmp_path: Path) -> None:
    (server.root / "f.bin").write_bytes(b"hello")
    with pytest.raises(AekitError, match="no published SHA-256"):
        download_file(server.url + "f.bin", tmp_path / "f.bin", None)
    assert server.requests == [] and not (tmp_path / "f.bin").exists()


def test_size_cap(server: Server, tmp_path: Path) -> None:
    (server.root / "big.bin").write_bytes(bytes(5000))
    with pytest.raises(AekitError, match="download limit"):
        download_file(server.url + "big.bin", tmp_path / "d" / "big.bin", "0" * 64, max_bytes=100)
    assert files_in(tmp_path / "d") == []


def test_only_http_urls(tmp_path: Path) -> None:
    with pytest.raises(AekitError, match="only http"):
        download_file("file:///etc/passwd", tmp_path / "x", "0" * 64)


def test_timeout(tmp_path: Path) -> None:
    with socket.socket() as s:  # accepts connections (backlog) but never answers
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        url = f"http://127.0.0.1:{s.getsockname()[1]}/x"
        with pytest.raises(AekitError, match="timed out"):
            download_file(url, tmp_path / "x", "0" * 64, timeout=0.3)
    assert not (tmp_path / "x").exists()


def test_offline_message_is_one_line_saying_how(monkeypatch) -> None:
    monkeypatch.setenv("AEKIT_MIRROR_MNIST", closed_port_url())
    with pytest.raises(AekitError) as info:
        load_dataset("mnist")
    msg = str(info.value)
    assert "\n" not in msg
    assert "download failed" in msg and "to get it:" in msg
    assert str(cache_root() / "mnist") in msg and "AEKIT_DATA" in msg
    assert files_in(cache_root() / "mnist") == []


def test_fashion_offline_message_names_the_debian_package(monkeypatch, tmp_path: Path) -> None:
    # download=False and a data_dir without the files: the system copy may still be found,
    # so only check the message when it is not installed.
    monkeypatch.setattr(
        "aekit.modalities.images.data.sources.SPECS", _without_system_dirs(), raising=True
    )
    with pytest.raises(AekitError, match="apt-get install dataset-fashion-mnist"):
        load_dataset("fashion-mnist", data_dir=tmp_path, download=False)


def _without_system_dirs() -> dict:
    import dataclasses

    from aekit.modalities.images.data import sources

    return {k: dataclasses.replace(v, system_dirs=()) for k, v in sources.SPECS.items()}


def test_mismatch_through_load_dataset(server: Server, monkeypatch) -> None:
    table = serve_idx_set(server.root)
    table[IDX_FILES[2]] = "f" * 64
    monkeypatch.setitem(download.OFFICIAL_SHA256, "mnist", table)
    monkeypatch.setenv("AEKIT_MIRROR_MNIST", server.url)
    with pytest.raises(AekitError, match="checksum mismatch .*expected sha256 f{64}"):
        load_dataset("mnist")
    assert IDX_FILES[2] not in files_in(cache_root() / "mnist")
    assert not any(name.endswith(".part") for name in files_in(cache_root() / "mnist"))


def test_cifar_download_extracts_and_drops_archive(server: Server, monkeypatch) -> None:
    rng = np.random.default_rng(0)
    members = {}
    for name in [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]:
        records = rng.integers(0, 256, (2, 3073), dtype=np.uint8)
        records[:, 0] %= 10
        members[f"cifar-10-batches-bin/{name}"] = records.tobytes()
    archive = server.root / download.CIFAR10_ARCHIVE
    with tarfile.open(archive, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    monkeypatch.setitem(
        download.OFFICIAL_SHA256, "cifar10", {download.CIFAR10_ARCHIVE: sha(archive)}
    )
    monkeypatch.setenv("AEKIT_MIRROR_CIFAR10", server.url)
    ds = load_dataset("cifar10", val_fraction=0)
    assert len(ds.train) == 10 and len(ds.test) == 2 and ds.image_shape == (3, 32, 32)
    assert files_in(cache_root() / "cifar10") == ["cifar-10-batches-bin"]
