"""`serve` holds its port from the start-up check on: the socket it opened before fetching the code is the one
gunicorn serves on (real `serve` processes, every worker class, IPv6, a multi-model endpoint). While the script is
imported (before gunicorn starts: where the check's socket used to be closed) another process cannot bind it."""

from __future__ import annotations

import errno
import http.client
import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.serving import server_env, start, stop, wait_for

pytestmark = pytest.mark.integration

# Waits at import for the test's go-ahead (bounded): the window between serve's check and gunicorn.
SCRIPT = """
import pathlib, time
here = pathlib.Path(__file__).parent
(here / "importing").write_text("")
deadline = time.monotonic() + 60
while not (here / "go").exists() and time.monotonic() < deadline:
    time.sleep(0.02)

def model_fn(model_dir):
    return None

def predict_fn(data, model):
    return data
"""
CASES = {
    "sync": ("sync", "127.0.0.1", False),
    "gthread": ("gthread", "127.0.0.1", False),
    "async-ipv6": ("async", "::1", False),
    "multi-model": ("sync", "127.0.0.1", True),
}


def _family(address: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in address else socket.AF_INET


def _free_port(address: str) -> int:
    with socket.socket(_family(address)) as probe:
        probe.bind((address, 0))
        return int(probe.getsockname()[1])


def _bind_error(address: str, port: int) -> int:
    """The errno of another process's bind to the port (0: it got it), with SO_REUSEADDR as servers set it."""
    with socket.socket(_family(address)) as competitor:
        competitor.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            competitor.bind((address, port))
            competitor.listen()
        except OSError as exc:
            return exc.errno or -1
        return 0


def _request(address: str, port: int, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection(address, port, timeout=10)
    try:
        connection.request(method, path, body=body, headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def _pings(address: str, port: int) -> bool:
    try:
        return _request(address, port, "GET", "/ping")[0] == 200
    except OSError:
        return False


@pytest.mark.parametrize(("worker_class", "address", "multi_model"), CASES.values(), ids=CASES.keys())
def test_no_other_process_takes_the_port_while_serve_starts(
    tmp_path: Path, worker_class: str, address: str, multi_model: bool
) -> None:
    port = _free_port(address)
    extra = {"SAGEMAKER_BIND_TO_ADDRESS": address, "SAGEMAKER_BIND_TO_PORT": str(port)}
    if multi_model:
        extra["SAGEMAKER_MULTI_MODEL"] = "true"
    base = tmp_path / "opt" / "ml"
    server = start(base, SCRIPT, worker_class, **extra)
    code = base / "code"
    try:
        wait_for(lambda: (code / "importing").exists() or server.process.poll() is not None, 30, "the import")
        assert server.process.poll() is None, server.output()
        assert _bind_error(address, port) == errno.EADDRINUSE
        (code / "go").write_text("")
        wait_for(lambda: server.process.poll() is not None or _pings(address, port), 30, "/ping 200")
        assert server.process.poll() is None, server.output()
        if not multi_model:
            assert _request(address, port, "POST", "/invocations", b"[1, 2]") == (200, b"[1, 2]")
        output = server.output()
        assert output.count("Listening at") == 1 and "in use" not in output and "Retrying" not in output
    finally:
        stop(server)


def test_a_dry_run_binds_nothing(tmp_path: Path) -> None:
    with socket.socket() as holder:  # the port is taken: a dry run still prints its plan
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        base = tmp_path / "opt" / "ml"
        (base / "code").mkdir(parents=True)
        (base / "model").mkdir()
        (base / "code" / "inference.py").write_text(SCRIPT)
        result = subprocess.run(
            [sys.executable, "-m", "smtoolkit.serve", "--dry-run"],
            env=server_env(base, port, {}),
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["listen"] == {"address": "127.0.0.1", "port": port}
