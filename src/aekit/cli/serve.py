"""`aekit serve RUN`: the latent-space explorer on a local web server (aekit.server).

The listening socket is bound here, before the model is loaded, and handed to uvicorn, so a port
in use is one line at once (not a traceback after loading), and no other program can take the
port between a check and the real bind. The host is 127.0.0.1 unless told otherwise: the API
decodes whatever it is sent, so it should not face a network by accident.
"""

from __future__ import annotations

import contextlib
import errno
import os
import socket
import sys
import threading
import webbrowser
from pathlib import Path
from typing import Annotated

import typer

from aekit.cli.common import DataDir, RunDir, app
from aekit.errors import AekitError

# What the `serve` extra installs (pyproject.toml), by import name. FastAPI itself only finds a
# missing python-multipart when it builds the upload route, deep in create_app.
SERVE_MODULES = ("fastapi", "uvicorn", "python_multipart", "swagger_ui_bundle")


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on (host, port), or one line saying why not."""
    if not 0 <= port <= 65535:
        raise AekitError(f"--port must be 0..65535, got {port}")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise AekitError(f"--host {host!r} is not an address of this machine ({exc})") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # not SO_REUSEPORT: no sharing
    try:
        sock.bind(address)
        sock.listen(128)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise AekitError(f"port {port} is in use; choose another with --port") from None
        if exc.errno == errno.EACCES:
            raise AekitError(
                f"no permission to listen on port {port}; choose one above 1023 with --port"
            ) from None
        raise AekitError(f"cannot listen on {host}:{port} ({exc.strerror})") from None
    sock.set_inheritable(True)
    return sock


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/"


def can_open_browser() -> bool:
    """Only where a window can open: a console browser would take over this terminal."""
    return sys.platform in ("darwin", "win32") or bool(
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    )


@app.command()
def serve(
    run: RunDir,
    port: Annotated[int, typer.Option(help="Port to listen on (0: any free port).")] = 8765,
    host: Annotated[
        str, typer.Option(help="Address to listen on; 0.0.0.0 exposes it to your network.")
    ] = "127.0.0.1",
    data_dir: DataDir = None,
    limit: Annotated[
        int, typer.Option(help="Test images to encode for the scatter and the gallery.")
    ] = 2000,
    threads: Annotated[
        int, typer.Option(help="torch threads per decode; 1 is fastest for small models.")
    ] = 1,
    open_browser: Annotated[
        bool, typer.Option("--open/--no-open", help="Open the page in a browser.")
    ] = True,
) -> None:
    """Explore a run in the browser: decode codes live, interpolate, try your own images."""
    from aekit.extras import require

    for module in SERVE_MODULES:  # before anything slow, and before the port is taken
        require(module, "serve", "aekit serve")
    import torch
    import uvicorn

    from aekit.server import create_app

    if threads < 1:
        raise AekitError(f"--threads must be at least 1, got {threads}")
    sock = bind(host, port)
    try:
        # One decode is a few small matrix products: spreading it over threads costs more in
        # hand-offs than it saves, and on a busy machine a thread waiting for a core stalls the
        # whole call (benchmarks/serve_latency.py measures both).
        torch.set_num_threads(threads)
        web_app = create_app(Path(run), data_dir=data_dir, limit=limit)
        url = url_of(sock)
        typer.echo(f"aekit explorer for {run} at {url}  (API docs: {url}docs; Ctrl-C stops)")
        if host not in ("127.0.0.1", "localhost", "::1"):
            typer.echo(f"note: listening on {host}, so other machines can reach this explorer")
        for note in web_app.state.explorer.notes:
            typer.echo(f"note: {note}")
        if open_browser and can_open_browser():
            threading.Timer(1.0, webbrowser.open, args=(url,)).start()
        server = uvicorn.Server(uvicorn.Config(web_app, log_level="warning", access_log=False))
        with contextlib.suppress(KeyboardInterrupt):  # uvicorn re-raises Ctrl-C after its
            server.run(sockets=[sock])  # graceful shutdown; stopping is this command's normal end
        typer.echo("explorer stopped")
    finally:
        sock.close()
