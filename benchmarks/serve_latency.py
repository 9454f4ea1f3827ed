"""Decode latency of the explorer (`aekit serve`): one code in, one PNG out. Target: < 10 ms.

Two models at Fashion-MNIST's size (1x28x28): the lesson's `vae` (784-512-2, a 2-D code, the
pad's home case) and `conv-vae --latent-dim 16` (conv-ae's default networks). Latency does not
depend on what the weights learned, so each is trained for one epoch on 256 images of uniform
noise (`--data fashion-mnist` trains on the real thing instead); the run directory is real, so
the server loads it exactly as `aekit serve` would.

Measured two ways, `--requests` times after a warm-up, random codes within +-2:

- in-process: `Explorer.decode` + PNG encoding, the work /api/decode does, without a server;
  with 1 torch thread and with 2 (what `aekit serve --threads` sets);
- HTTP: a real `aekit serve --port 0 --no-open` subprocess on 127.0.0.1, one keep-alive
  connection posting JSON and reading the PNG, timed from the client, one request at a time.
  The client is the standard library's http.client: lean like a browser's fetch (httpx alone
  adds 1-3 ms per request on this machine, which would measure the client, not the server).

    python benchmarks/serve_latency.py [--requests 500] [--data fashion-mnist]
"""

from __future__ import annotations

import argparse
import http.client
import json
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import torch
from common import print_table, write_json

from aekit.cli import build_run_config
from aekit.runs import train_run
from aekit.server.explorer import Explorer, png_bytes

MODELS = {
    "vae (784-512-2)": ("vae", {"model.latent_dim": 2}),
    "conv-vae (latent 16)": ("conv-vae", {"model.latent_dim": 16}),
}


def make_run(root: Path, name: str, model: str, flags: dict, data: str) -> Path:
    settings = {"data.name": data, "train.epochs": 1, "train.batch_size": 64,
                "train.precision": "fp32", **flags}  # fmt: skip
    if data.endswith(".npz"):
        settings["data.limit"] = 256
    out = root / name
    train_run(build_run_config(model, None, settings, []), out, progress=False)
    return out


def noise_npz(root: Path) -> Path:
    rng = np.random.default_rng(0)
    path = root / "noise28.npz"
    np.savez(path, x_train=rng.integers(0, 256, (320, 28, 28), dtype=np.uint8),
             x_test=rng.integers(0, 256, (64, 28, 28), dtype=np.uint8))  # fmt: skip
    return path


def stats(seconds: list[float]) -> dict[str, float]:
    ms = np.array(seconds) * 1000
    return {"median_ms": float(np.median(ms)), "p99_ms": float(np.percentile(ms, 99)),
            "mean_ms": float(ms.mean())}  # fmt: skip


def codes(n: int, dim: int) -> np.ndarray:
    return np.random.default_rng(1).uniform(-2, 2, (n, dim)).astype(np.float32)


def in_process(run: Path, requests: int, threads: int) -> dict[str, float]:
    torch.set_num_threads(threads)
    explorer = Explorer.load(run, limit=0)
    zs = codes(requests + 50, explorer.code_dim)
    times = []
    for i, z in enumerate(zs):
        started = time.perf_counter()
        png_bytes(explorer.decode(z[None], None)[0])
        if i >= 50:
            times.append(time.perf_counter() - started)
    return stats(times)


def start_server(run: Path, threads: int) -> tuple[subprocess.Popen, str, int]:
    """A real `aekit serve --port 0` subprocess on 127.0.0.1: (process, host, port)."""
    command = [sys.executable, "-m", "aekit", "serve", str(run), "--port", "0", "--no-open",
               "--threads", str(threads), "--limit", "0"]  # fmt: skip
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    first: list[str] = []
    reader = threading.Thread(target=lambda: first.append(proc.stdout.readline()))
    reader.start()
    reader.join(120)
    match = re.search(r"http://127\.0\.0\.1:\d+/", first[0] if first else "")
    if match is None:
        proc.terminate()
        raise SystemExit(f"aekit serve did not start: {first}")
    host, port = match.group(0)[len("http://") : -1].split(":")
    return proc, host, int(port)


def over_http(run: Path, requests: int, threads: int) -> dict[str, float]:
    proc, host, port = start_server(run, threads)
    try:
        connection = http.client.HTTPConnection(host, port, timeout=10)
        connection.request("GET", "/api/info")
        dim = json.loads(connection.getresponse().read())["code_dim"]
        headers = {"Content-Type": "application/json"}
        times = []
        for i, z in enumerate(codes(requests + 50, dim)):
            started = time.perf_counter()
            connection.request("POST", "/api/decode", body=json.dumps({"z": z.tolist()}),
                               headers=headers)  # fmt: skip
            response = connection.getresponse()
            body = response.read()
            if response.status != 200 or not body.startswith(b"\x89PNG"):
                raise SystemExit(f"/api/decode answered {response.status}: {body[:200]!r}")
            if i >= 50:
                times.append(time.perf_counter() - started)
        connection.close()
        return stats(times)
    finally:
        proc.terminate()
        proc.wait(20)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--data", default=None, help="default: 28x28 uniform noise")
    args = parser.parse_args()
    rows, results = [], []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        data = args.data or str(noise_npz(root))
        for label, (model, flags) in MODELS.items():
            run = make_run(root, model, model, flags, data)
            params = sum(p.numel() for p in Explorer.load(run, limit=0).model.parameters())
            for where, threads in [("in-process", 1), ("in-process", 2), ("HTTP", 1)]:
                measure = in_process if where == "in-process" else over_http
                result = measure(run, args.requests, threads)
                results.append({"model": label, "params": params, "where": where,
                                "threads": threads, **result})  # fmt: skip
                rows.append([label, f"{params:,}", where, threads, f"{result['median_ms']:.2f}",
                             f"{result['p99_ms']:.2f}"])  # fmt: skip
    print_table(["model", "params", "decode", "threads", "median ms", "p99 ms"], rows)
    path = write_json("serve_latency", {"requests": args.requests, "data": args.data or "noise",
                                        "target_ms": 10, "results": results})  # fmt: skip
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
