"""`aekit serve`: one line and exit 2 for what the user can fix; a real server otherwise."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys

import httpx
import pytest

from tests.conftest import served_url


def one_line_error(code: int, err: str, fragment: str) -> None:
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("aekit: error: ") and fragment in lines[0], err


def test_a_port_in_use_is_one_line(run_cli, tiny_run):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        code, _, err = run_cli("serve", tiny_run("vae2"), "--port", port, "--no-open")
    one_line_error(code, err, f"port {port} is in use; choose another with --port")


def test_a_run_without_a_model_is_one_line(run_cli, no_model_run, tmp_path):
    code, _, err = run_cli("serve", no_model_run, "--port", "0", "--no-open")
    one_line_error(code, err, "has no model.safetensors yet")
    code, _, err = run_cli("serve", tmp_path / "nothing", "--port", "0", "--no-open")
    one_line_error(code, err, "is not an aekit run directory")


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["--port", "70000"], "--port must be 0..65535"),
        (["--host", "10.255.255.1"], "cannot listen on 10.255.255.1:0"),
        (["--threads", "0"], "--threads must be at least 1"),
        (["--limit", "-1"], "limit must be >= 0"),
    ],
)
def test_bad_options_are_one_line(run_cli, tiny_run, args, fragment):
    code, _, err = run_cli("serve", tiny_run("vae2"), "--port", "0", "--no-open", *args)
    one_line_error(code, err, fragment)


def test_serve_answers_on_127_0_0_1_and_stops_on_ctrl_c(tiny_run):
    """The real command in a subprocess: it prints its URL, serves, and exits on SIGINT."""
    env = {**os.environ, "DISPLAY": ""}
    command = [sys.executable, "-m", "aekit", "serve", str(tiny_run("vae2")), "--port", "0"]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env)  # fmt: skip
    try:
        url = served_url(proc)
        info = httpx.get(url + "api/info", timeout=10).json()
        assert info["model"] == "vae"
        assert "aekit explorer" in httpx.get(url, timeout=10).text
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(20)
    assert proc.returncode == 0, proc.stderr.read()
