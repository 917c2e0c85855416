"""Helpers for the container tests: job trees with the test scripts, containers run and always removed, HTTP
polling on loopback."""

from __future__ import annotations

import contextlib
import json
import shutil
import socket
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from tests.conftest import write_job_tree
from tests.containers.engine import DockerEngine

CODE = Path(__file__).resolve().parent / "code"


def make_job(
    base: Path,
    script: str,
    hyperparameters: dict[str, Any] | None = None,
    train_rows: tuple[str, ...] = ("1,2", "3,4"),
) -> Path:
    """A job tree at `base` (mounted as /opt/ml): config files, a `train` channel with one CSV, the script in
    code/."""
    write_job_tree(base, hyperparameters=hyperparameters, channels={"train": {"TrainingInputMode": "File"}})
    data = base / "input" / "data" / "train"
    data.mkdir(parents=True)
    (data / "part-0.csv").write_text("\n".join(train_rows) + "\n")
    (base / "code").mkdir()
    shutil.copy(CODE / script, base / "code" / script)
    (base / "model").mkdir()
    return base


def env_args(environ: Mapping[str, str]) -> list[str]:
    return [arg for name, value in environ.items() for arg in ("-e", f"{name}={value}")]


def container_name() -> str:
    return f"smtk-test-{uuid.uuid4().hex[:12]}"


@contextlib.contextmanager
def removed_after(engine: DockerEngine, name: str) -> Iterator[str]:
    """Yield the container name; `docker rm -f` it afterwards whatever happened."""
    try:
        yield name
    finally:
        engine.docker("rm", "-f", name, check=False, timeout=60)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def http(url: str, body: bytes | None = None, headers: Mapping[str, str] | None = None) -> tuple[int, bytes]:
    """(status, body) of one request; HTTP errors are answers too."""
    request = urllib.request.Request(url, data=body, headers=dict(headers or {}), method="POST" if body else "GET")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.read()


def wait_for_ping(url: str, engine: DockerEngine, name: str, timeout: float = 60) -> None:
    """Poll GET url until 200; fail with the container's log when it does not come."""
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        try:
            status, _ = http(url)
        except (OSError, urllib.error.URLError) as exc:
            last = str(exc)
        else:
            if status == 200:
                return
            last = f"status {status}"
        time.sleep(0.2)
    logs = engine.docker("logs", name, check=False)
    raise AssertionError(
        f"{url} did not answer 200 within {timeout} s ({last}); container log:\n{logs.stdout}{logs.stderr}"
    )


def predict(base_url: str, rows: Any) -> tuple[int, Any]:
    status, body = http(
        f"{base_url}/invocations",
        json.dumps(rows).encode(),
        {"Content-Type": "application/json", "Accept": "application/json"},
    )
    return status, json.loads(body)
