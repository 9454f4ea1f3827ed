"""The explorer under load and abuse: a bounded run from a second process on 127.0.0.1 only.

A real `aekit serve` subprocess (the lesson's 784-512-2 `vae`, trained one epoch on noise: load
does not depend on what the weights learned) takes, for `--seconds`:

* `--clients` concurrent clients (threads of this process, one keep-alive connection each)
  posting random codes to /api/decode as fast as answers come;
* `--uploaders` clients uploading a 28x28 PNG to /api/apply;
* one abuser sending, in turn, a 6 MB upload, a body that is not JSON, a code with NaN, a code of
  the wrong length, a file that is not an image and a path-traversal URL; each must get its 4xx.

Promise (issue 6): zero errors (any other status, a wrong content type, a dropped connection)
and p99 latency under 100 ms for /api/decode. The client is the standard library's http.client.

    python benchmarks/serve_load.py [--clients 32] [--uploaders 2] [--seconds 30]
"""

from __future__ import annotations

import argparse
import http.client
import io
import json
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
from common import print_table, write_json
from PIL import Image
from serve_latency import make_run, noise_npz, start_server, stats

ABUSE = [  # (name, method, path, body, content type, the status it must get)
    ("6 MB upload", "POST", "/api/apply", None, "multipart", 413),
    ("not JSON", "POST", "/api/decode", b"{z: nope", "application/json", 422),
    ("NaN in code", "POST", "/api/decode", b'{"z": [NaN, 0.0]}', "application/json", 422),
    ("wrong length", "POST", "/api/decode", b'{"z": [0.0, 0.0, 1.0]}', "application/json", 422),
    ("not an image", "POST", "/api/apply", b"hello", "multipart", 415),
    ("path traversal", "GET", "/static/../../config.json", None, None, 404),
]


def multipart(data: bytes, fields: dict[str, str]) -> tuple[bytes, str]:
    boundary = "aekit-load-boundary"
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
        for k, v in fields.items()
    ]
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="x.png"\r\n'
        "Content-Type: image/png\r\n\r\n".encode()
        + data
        + b"\r\n"
    )
    return b"".join(
        parts
    ) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def png(seed: int) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 256, (28, 28), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


class Tally:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.latency: dict[str, list[float]] = defaultdict(list)
        self.errors: dict[str, list[str]] = defaultdict(list)

    def record(self, kind: str, seconds: float, error: str | None) -> None:
        with self.lock:
            self.latency[kind].append(seconds)
            if error is not None:
                self.errors[kind].append(error)


def client(host, port, until, tally, kind, request) -> None:
    """Send request() -> (method, path, body, headers, expected status, expected type prefix)
    until `until`, on one keep-alive connection (reopened after any failure)."""
    connection = http.client.HTTPConnection(host, port, timeout=30)
    n = 0
    while time.perf_counter() < until:
        method, path, body, headers, status, content = request(n)
        n += 1
        started = time.perf_counter()
        error = None
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            payload = response.read()
            got = response.getheader("Content-Type", "")
            if response.status != status:
                error = f"{path}: status {response.status} ({payload[:120]!r}), wanted {status}"
            elif not got.startswith(content):
                error = f"{path}: content type {got!r}, wanted {content!r}"
            if response.getheader("Connection", "") == "close":
                connection.close()
        except (OSError, http.client.HTTPException) as exc:
            error = f"{path}: {type(exc).__name__}: {exc}"
            connection.close()
        tally.record(kind, time.perf_counter() - started, error)
    connection.close()


def decode_requests(dim: int):
    zs = np.random.default_rng(2).uniform(-2, 2, (4096, dim))
    headers = {"Content-Type": "application/json"}

    def request(n):
        body = json.dumps({"z": zs[n % len(zs)].tolist()})
        return "POST", "/api/decode", body, headers, 200, "image/png"

    return request


def upload_requests():
    body, content_type = multipart(png(0), {"resize": "false"})
    headers = {"Content-Type": content_type}
    return lambda n: ("POST", "/api/apply", body, headers, 200, "application/json")


def abuse_requests():
    big, big_type = multipart(b"\x00" * (6 << 20), {})
    junk, junk_type = multipart(b"hello", {})

    def request(n):
        name, method, path, body, content, status = ABUSE[n % len(ABUSE)]
        if content == "multipart":
            body, content = (big, big_type) if status == 413 else (junk, junk_type)
        headers = {"Content-Type": content} if content else {}
        return method, path, body, headers, status, "application/json"

    return request


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--uploaders", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args()
    tally = Tally()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        run = make_run(root, "vae", "vae", {"model.latent_dim": 2}, str(noise_npz(root)))
        proc, host, port = start_server(run, threads=1)
        try:
            until = time.perf_counter() + args.seconds
            workers = [("decode", decode_requests(2))] * args.clients
            workers += [("upload", upload_requests())] * args.uploaders
            workers += [("abuse (4xx expected)", abuse_requests())]
            threads = [
                threading.Thread(target=client, args=(host, port, until, tally, kind, request))
                for kind, request in workers
            ]
            started = time.perf_counter()
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            elapsed = time.perf_counter() - started
            alive = http.client.HTTPConnection(host, port, timeout=10)
            alive.request("GET", "/api/info")
            still_serving = alive.getresponse().status == 200
        finally:
            proc.terminate()
            proc.wait(20)
    rows, results = [], {}
    for kind, seconds in tally.latency.items():
        s = stats(seconds)
        errors = tally.errors.get(kind, [])
        results[kind] = {"requests": len(seconds), "per_s": len(seconds) / elapsed,
                         "errors": len(errors), "first_errors": errors[:5], **s}  # fmt: skip
        rows.append([kind, len(seconds), f"{len(seconds) / elapsed:,.0f}", len(errors),
                     f"{s['median_ms']:.1f}", f"{s['p99_ms']:.1f}"])  # fmt: skip
    print_table(["requests", "count", "per s", "errors", "median ms", "p99 ms"], rows)
    total_errors = sum(r["errors"] for r in results.values())
    decode_p99 = results["decode"]["p99_ms"]
    print(f"errors: {total_errors}; /api/decode p99 {decode_p99:.1f} ms (target < 100); "
          f"server still serving afterwards: {still_serving}")  # fmt: skip
    for kind, errors in tally.errors.items():
        for error in errors[:3]:
            print(f"  {kind}: {error}")
    path = write_json("serve_load", {
        "clients": args.clients, "uploaders": args.uploaders, "seconds": args.seconds,
        "results": results, "errors": total_errors, "decode_p99_ms": decode_p99,
        "still_serving": still_serving, "target": "0 errors, decode p99 < 100 ms",
    })  # fmt: skip
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
