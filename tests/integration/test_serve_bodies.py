"""Request bodies against the real `serve` on every worker class: the 413 that a client still sending its body
always receives, large bodies read in place, bodies no decoder can take."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator

import pytest

from tests.integration.serving import Server, start, stop, wait_ready, worker_class

pytestmark = pytest.mark.integration
__all__ = ["worker_class"]  # the fixture that runs this module once per worker class

SCRIPT = """
def model_fn(model_dir):
    return lambda data: data
"""
SIZE_SCRIPT = """
import json
import resource


def model_fn(model_dir):
    return None


def transform_fn(model, data, content_type, accept):  # how much the worker's memory grew while it read the body
    return json.dumps({"size": len(data), "peak_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss})
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, worker_class: str) -> Iterator[Server]:
    server = start(tmp_path_factory.mktemp("bodies") / "ml", SCRIPT, worker_class, SAGEMAKER_MODEL_SERVER_WORKERS="1")
    try:
        wait_ready(server)
        yield server
    finally:
        stop(server)


def test_a_client_sending_a_body_over_the_limit_always_reads_the_413(server: Server):
    body = b"1," * (1024 * 1024)  # 2 MiB against the 1 MiB limit, sent whole before reading, as most clients do
    for attempt in range(100):  # the reset came about 1 try in 40 before the drain
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        try:
            connection.request("POST", "/invocations", body=body, headers={"Content-Type": "text/csv"})
            response = connection.getresponse()
            assert response.status == 413, attempt
            assert "limit is 1048576" in json.loads(response.read())["message"]
        finally:
            connection.close()
    assert server.invoke(b"1", "text/csv").status == 200


def test_json_too_deep_for_the_decoder_is_a_400(server: Server):
    reply = server.invoke(b"[" * 100_000 + b"]" * 100_000, "application/json")
    assert reply.status == 400 and reply.json()["type"] == "BadRequest"
    assert "too deeply nested" in reply.json()["message"] and b"Traceback" not in reply.body


def test_a_large_body_is_read_without_a_second_copy(tmp_path, worker_class: str):
    server = start(tmp_path / "ml", SIZE_SCRIPT, worker_class, SAGEMAKER_MAX_PAYLOAD_IN_MB="0")
    size = 256 * 1024 * 1024
    try:
        wait_ready(server)
        before = server.invoke(b"x", "application/octet-stream").json()["peak_kib"]
        body = bytes(size)
        reply = server.invoke(body, "application/octet-stream")
        assert reply.status == 200 and reply.json()["size"] == size
        grown_mib = (reply.json()["peak_kib"] - before) / 1024
        assert grown_mib < 1.5 * size / 2**20, f"the worker grew by {grown_mib:.0f} MiB for a 256 MiB body"
    finally:
        stop(server)
