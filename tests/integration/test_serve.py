"""`python -m smtoolkit.serve` for real: gunicorn on a free loopback port, an inference script in tmp_path."""

from __future__ import annotations

import http.client
import io
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import numpy as np
import pytest

pytestmark = pytest.mark.integration

SCRIPT = """
import time
from pathlib import Path

from smtoolkit.errors import ServeError


class Identity:
    def predict(self, data):
        return data


def model_fn(model_dir):
    release, deadline = Path(model_dir) / "release", time.monotonic() + 20
    while not release.exists():  # the test decides when loading ends
        if time.monotonic() > deadline:
            raise TimeoutError("no release file")
        time.sleep(0.02)
    return Identity()


def predict_fn(data, model, context):
    if isinstance(data, dict):
        if "sleep" in data:
            (Path(context.system_properties["model_dir"]) / "busy").touch()
            time.sleep(data["sleep"])
        if "status" in data:
            raise ServeError(data["message"], status=data["status"])
        if "crash" in data:
            raise RuntimeError("secret-token-123")
    if context.custom_attributes:
        context.set_custom_attributes("echo:" + context.custom_attributes)
    return model.predict(data)
"""


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


def server_env(base: Path, port: int, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SAGEMAKER_", "SM_"))}
    env.update(
        SAGEMAKER_BASE_DIR=str(base),
        SAGEMAKER_BIND_TO_ADDRESS="127.0.0.1",
        SAGEMAKER_BIND_TO_PORT=str(port),
        SAGEMAKER_MODEL_SERVER_WORKERS="2",
        SAGEMAKER_MAX_PAYLOAD_IN_MB="1",
        SAGEMAKER_MODEL_SERVER_GRACEFUL_TIMEOUT="10",
        **extra,
    )
    return env


def start(base: Path, script: str = SCRIPT, **extra: str) -> Server:
    (base / "code").mkdir(parents=True, exist_ok=True)
    (base / "model").mkdir(exist_ok=True)
    (base / "code" / "inference.py").write_text(textwrap.dedent(script))
    port = free_port()
    log = (base / "server.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "smtoolkit.serve"], env=server_env(base, port, **extra), stdout=log, stderr=log
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


@pytest.fixture(scope="module")
def loading_pings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Reply, Reply]]:
    """A server, the first /ping answer while model_fn waits, and the first after it returned."""
    server = start(tmp_path_factory.mktemp("serve") / "opt" / "ml")
    try:
        first = wait_for(lambda: ping(server), 20, "a /ping answer")
        (server.base / "model" / "release").touch()
        ready = wait_for(lambda: (r := ping(server)) is not None and r.status == 200 and r, 20, "/ping 200")
        yield server, first, ready
    finally:
        stop(server)


@pytest.fixture
def server(loading_pings: tuple[Server, Reply, Reply]) -> Server:
    return loading_pings[0]


def test_ping_is_503_while_the_model_loads_then_200_with_an_empty_body(loading_pings):
    _, first, ready = loading_pings
    assert first.status == 503 and first.headers["content-type"] == "application/json"
    assert first.json()["type"] == "ModelNotReady"
    assert (ready.status, ready.body) == (200, b"")
    assert ready.headers["content-type"].startswith("text/plain")


def test_csv_json_and_npy(server: Server):
    reply = server.invoke(b"1,2,3\n4,5,6\n", "text/csv; charset=utf-8", Accept="text/csv")
    assert (reply.status, reply.headers["content-type"], reply.body) == (200, "text/csv", b"1.0,2.0,3.0\n4.0,5.0,6.0\n")
    reply = server.invoke(b"[[1, 2], [3, 4]]", "application/json")
    assert reply.headers["content-type"] == "application/json" and reply.json() == [[1, 2], [3, 4]]
    buffer = io.BytesIO()
    np.save(buffer, np.arange(4, dtype=np.float32))
    reply = server.invoke(buffer.getvalue(), "application/x-npy", Accept="application/x-npy;q=0.9, text/html;q=0.1")
    assert reply.headers["content-type"] == "application/x-npy"
    assert np.load(io.BytesIO(reply.body)).tolist() == [0.0, 1.0, 2.0, 3.0]


def _assert_json_error(reply: Reply, status: int, text: str) -> None:
    assert reply.status == status and reply.headers["content-type"] == "application/json"
    assert text in reply.json()["message"]
    assert b"Traceback" not in reply.body and b'File "' not in reply.body


def test_error_statuses_have_json_bodies_and_no_tracebacks(server: Server):
    _assert_json_error(server.invoke(b"x", "application/x-unknown"), 415, "application/x-unknown")
    _assert_json_error(server.invoke(b"1", "text/csv", Accept="image/png"), 406, "image/png")
    _assert_json_error(server.invoke(b"1,2\n3\n", "text/csv"), 400, "line 2 has 1 fields")
    _assert_json_error(server.invoke(b'{"status": 422, "message": "bad feature"}', "application/json"), 422, "bad")
    crash = server.invoke(b'{"crash": 1}', "application/json")
    _assert_json_error(crash, 500, "predict_fn failed with RuntimeError")
    assert b"secret-token-123" not in crash.body
    wait_for(lambda: "secret-token-123" in server.output(), 5, "the traceback in the server log")


def test_payload_over_the_limit_is_413_before_the_body_is_read(server: Server):
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        connection.putrequest("POST", "/invocations")
        connection.putheader("Content-Type", "text/csv")
        connection.putheader("Content-Length", str(2 * 1024 * 1024))
        connection.endheaders()  # no body is sent: the server must answer from the header alone
        response = connection.getresponse()
        reply = Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read())
    finally:
        connection.close()
    _assert_json_error(reply, 413, "the limit is 1048576")


def test_custom_attributes_round_trip(server: Server):
    reply = server.invoke(b"1", "text/csv", **{"X-Amzn-SageMaker-Custom-Attributes": "trace-id=42"})
    assert reply.status == 200
    assert reply.headers["x-amzn-sagemaker-custom-attributes"] == "echo:trace-id=42"


def test_execution_parameters(server: Server):
    reply = server.request("GET", "/execution-parameters")
    assert reply.headers["content-type"] == "application/json"
    assert reply.json() == {"MaxConcurrentTransforms": 2, "BatchStrategy": "MULTI_RECORD", "MaxPayloadInMB": 1}


def test_sigterm_finishes_the_request_in_flight_and_exits_0(tmp_path: Path):
    base = tmp_path / "opt" / "ml"
    (base / "model").mkdir(parents=True)
    (base / "model" / "release").touch()
    server = start(base, SAGEMAKER_PRELOAD_MODEL="false")
    try:
        wait_for(lambda: (r := ping(server)) is not None and r.status == 200, 20, "/ping 200")
        replies: list[Reply] = []
        slow = threading.Thread(target=lambda: replies.append(server.invoke(b'{"sleep": 1}', "application/json")))
        slow.start()
        wait_for((base / "model" / "busy").exists, 10, "the request to reach predict_fn")
        started = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(10) == 0
        slow.join(10)
        assert time.monotonic() - started < 5
        assert replies[0].status == 200 and replies[0].json() == {"sleep": 1}
    finally:
        stop(server)


def test_sigterm_while_the_model_loads_exits_0(tmp_path: Path):
    server = start(tmp_path / "opt" / "ml")  # no release file: model_fn waits
    try:
        first = wait_for(lambda: ping(server), 20, "a /ping answer")
        assert first.status == 503
        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(5) == 0
    finally:
        stop(server)


@pytest.mark.parametrize(("preload", "status"), [("true", 1), ("false", 3)])
def test_a_failing_model_fn_stops_the_server_with_its_error(tmp_path: Path, preload: str, status: int):
    script = "def model_fn(model_dir):\n    raise OSError('no weights here')\n"
    server = start(tmp_path / "opt" / "ml", script, SAGEMAKER_PRELOAD_MODEL=preload)
    try:
        assert server.process.wait(20) == status
        assert "model_fn failed: OSError: no weights here" in server.output()
        assert "Traceback" in server.output()
    finally:
        stop(server)


def test_a_script_without_model_fn_fails_at_startup(tmp_path: Path):
    server = start(tmp_path / "opt" / "ml", "def predict_fn(data, model):\n    return data\n")
    try:
        assert server.process.wait(20) == 1
        assert "defines no model_fn(model_dir)" in server.output()
    finally:
        stop(server)
