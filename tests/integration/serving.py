"""Helpers for the `serve` integration tests: start `python -m smtoolkit.serve` on a free loopback port with
an inference script under a temporary job tree, talk HTTP to it, stop it."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import psutil
import pytest

# Every contract test runs on each worker class (gthread with 2 threads, to exercise them).
WORKER_CLASSES = ("async", "sync", "gthread")


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Server:
    port: int
    process: subprocess.Popen[bytes]
    base: Path
    log: TextIO

    def request(self, method: str, path: str, body: bytes | None = None, **headers: str) -> Reply:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            return Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read())
        finally:
            connection.close()

    def invoke(self, body: bytes, content_type: str, **headers: str) -> Reply:
        return self.request("POST", "/invocations", body, **{"Content-Type": content_type, **headers})

    def output(self) -> str:
        self.log.flush()
        return (self.base / "server.log").read_text()

    def worker_pids(self) -> set[int]:
        """The gunicorn workers: the children of the master (the `serve` process itself)."""
        try:
            return {child.pid for child in psutil.Process(self.process.pid).children()}
        except psutil.NoSuchProcess:
            return set()


def wait_for(condition: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def server_env(base: Path, port: int, extra: Mapping[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SAGEMAKER_", "SM_"))}
    env.update(
        SAGEMAKER_BASE_DIR=str(base),
        SAGEMAKER_BIND_TO_ADDRESS="127.0.0.1",
        SAGEMAKER_BIND_TO_PORT=str(port),
        SAGEMAKER_MODEL_SERVER_WORKERS="2",
        SAGEMAKER_MAX_PAYLOAD_IN_MB="1",
        SAGEMAKER_MODEL_SERVER_GRACEFUL_TIMEOUT="10",
    )
    env.update(extra)
    return env


@pytest.fixture(scope="module", params=WORKER_CLASSES)
def worker_class(request: pytest.FixtureRequest) -> str:
    """The worker class the tests of a module run on, one after the other (import it into the module)."""
    return str(request.param)


def worker_env(worker_class: str | None) -> dict[str, str]:
    if worker_class is None:
        return {}
    env = {"SAGEMAKER_MODEL_SERVER_WORKER_CLASS": worker_class}
    if worker_class == "gthread":
        env["SAGEMAKER_MODEL_SERVER_THREADS"] = "2"
    return env


def start(base: Path, script: str | None, worker_class: str | None = None, **extra: str) -> Server:
    """`serve` with base as SAGEMAKER_BASE_DIR; `script` (dedented) as code/inference.py unless None;
    `worker_class` as SAGEMAKER_MODEL_SERVER_WORKER_CLASS (None: the default); on a free port unless `extra`
    sets SAGEMAKER_BIND_TO_PORT."""
    (base / "code").mkdir(parents=True, exist_ok=True)
    (base / "model").mkdir(exist_ok=True)
    if script is not None:
        (base / "code" / "inference.py").write_text(textwrap.dedent(script))
    port = int(extra.get("SAGEMAKER_BIND_TO_PORT") or free_port())
    log = (base / "server.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "smtoolkit.serve"],
        env=server_env(base, port, {**worker_env(worker_class), **extra}),
        stdout=log,
        stderr=log,
    )
    return Server(port, process, base, log)


def stop(server: Server) -> None:
    if server.process.poll() is None:
        server.process.send_signal(signal.SIGTERM)
        try:
            server.process.wait(15)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait(5)
    server.log.close()


def ping(server: Server) -> Reply | None:
    assert server.process.poll() is None, server.output()
    try:
        return server.request("GET", "/ping")
    except ConnectionError:
        return None


def wait_ready(server: Server, timeout: float = 30) -> None:
    wait_for(lambda: (r := ping(server)) is not None and r.status == 200, timeout, "/ping 200")


class ChunkedReader:
    """A raw-socket client of one streamed answer: the head, then each chunk as the server sends it."""

    def __init__(self, server: Server, body: bytes, content_type: str, timeout: float = 10) -> None:
        self.sock = socket.create_connection(("127.0.0.1", server.port), timeout=timeout)
        head = (
            f"POST /invocations HTTP/1.1\r\nHost: test\r\nContent-Type: {content_type}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        )
        self.sock.sendall(head.encode() + body)
        self.file = self.sock.makefile("rb")
        status_line = self.file.readline()
        self.status = int(status_line.split()[1])
        self.headers: dict[str, str] = {}
        while (line := self.file.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            self.headers[name.strip().lower()] = value.strip()

    def chunk(self) -> bytes | None:
        """The next chunk's data; None for the last (empty) chunk. EOFError when the body ends unfinished."""
        size_line = self.file.readline()
        if not size_line:
            raise EOFError("the connection closed before the last chunk")
        size = int(size_line.split(b";")[0], 16)
        data = self.file.read(size + 2)
        if len(data) < size + 2:
            raise EOFError("the connection closed inside a chunk")
        return data[:-2] if size else None

    def rest(self) -> list[bytes]:
        chunks = []
        while (data := self.chunk()) is not None:
            chunks.append(data)
        return chunks

    def close(self) -> None:
        self.file.close()
        self.sock.close()
