"""Streamed answers from the real `serve` on every worker class, read chunk by chunk by a raw-socket client:
chunks as they are yielded, SSE and JSON Lines framing, a failure mid-stream, a client that goes away, SIGTERM."""

from __future__ import annotations

import json
import signal
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.serving import ChunkedReader, Server, start, stop, wait_for, wait_ready, worker_class

pytestmark = pytest.mark.integration
__all__ = ["worker_class"]  # the fixture that runs this module once per worker class

SCRIPT = """
import asyncio
import itertools
import time
from pathlib import Path

from smtoolkit.serve import json_lines, sse


def model_fn(model_dir):
    return Path(model_dir)


def wait_file(path):
    deadline = time.monotonic() + 20
    while not path.exists() and time.monotonic() < deadline:  # the test decides when the stream goes on
        time.sleep(0.01)


def gated(folder, name):
    yield f"first {name}\\n"
    wait_file(folder / f"go-{name}")
    yield "second\\n"


def forever(folder, name):
    try:
        for number in itertools.count():
            yield f"{number}\\n".encode()
            time.sleep(0.01)
    finally:
        (folder / f"closed-{name}").touch()


def failing():
    yield {"token": 1}
    yield {"token": 2}
    raise RuntimeError("secret-mid-stream")


async def counting():
    for number in range(3):
        await asyncio.sleep(0)
        yield f"async {number}\\n"


def transform_fn(folder, data, content_type, accept):
    kind, _, name = data.decode().partition(":")
    if kind == "gated":
        return gated(folder, name), "text/plain"
    if kind == "forever":
        return forever(folder, name)
    if kind == "sse":
        return sse(({"n": n} for n in range(3)))
    if kind == "sse-fail":
        return sse(failing())
    if kind == "jsonl-fail":
        return json_lines(failing())
    if kind == "raw-fail":
        return (part for part in [b"a", b"b", None])
    if kind == "async":
        return counting(), "text/plain"
    if kind == "fail-at-once":
        return (1 / 0 for _ in range(1))
    return b"plain"
"""


ERROR = b'{"type": "InternalServerError", "message": "RuntimeError; see the server log"}'


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, worker_class: str) -> Iterator[Server]:
    server = start(tmp_path_factory.mktemp("stream") / "ml", SCRIPT, worker_class)
    try:
        wait_ready(server)
        yield server
    finally:
        stop(server)


def test_the_first_chunk_arrives_before_the_generator_finishes(server: Server):
    name = f"first-{threading.get_ident()}"
    reader = ChunkedReader(server, f"gated:{name}".encode(), "application/octet-stream")
    try:
        assert reader.status == 200 and reader.headers["transfer-encoding"] == "chunked"
        assert reader.headers["content-type"] == "text/plain" and "content-length" not in reader.headers
        assert reader.chunk() == f"first {name}\n".encode()  # the generator is now waiting for go-<name>
        (server.base / "model" / f"go-{name}").touch()
        assert reader.rest() == [b"second\n"]
    finally:
        reader.close()


def test_sse_and_async_generators(server: Server):
    reader = ChunkedReader(server, b"sse", "application/octet-stream")
    try:
        assert reader.headers["content-type"] == "text/event-stream"
        assert b"".join(reader.rest()) == b'data: {"n": 0}\n\ndata: {"n": 1}\n\ndata: {"n": 2}\n\n'
    finally:
        reader.close()
    reader = ChunkedReader(server, b"async", "application/octet-stream")
    try:
        assert b"".join(reader.rest()) == b"async 0\nasync 1\nasync 2\n"
    finally:
        reader.close()


@pytest.mark.parametrize(
    ("kind", "last"),
    [
        (
            "sse-fail",
            b'event: error\ndata: {"type": "InternalServerError", "message": "RuntimeError; see the server log"}',
        ),
        ("jsonl-fail", b'{"error": {"type": "InternalServerError", "message": "RuntimeError; see the server log"}}'),
        ("raw-fail", b"b"),
    ],
)
def test_a_failure_mid_stream_ends_the_body_unfinished_and_is_logged_once(server: Server, kind: str, last: bytes):
    reader = ChunkedReader(server, kind.encode(), "application/octet-stream")
    received: list[bytes] = []
    try:
        with pytest.raises(EOFError):
            while (data := reader.chunk()) is not None:
                received.append(data)
    finally:
        reader.close()
    assert received and received[-1].strip() == last and b"secret" not in b"".join(received)
    cause = "secret-mid-stream" if kind != "raw-fail" else "expected bytes or str"
    log = wait_for(lambda: cause in (text := server.output()) and text, 5, "the failure in the log")
    assert "the streamed response failed after" in log
    assert "StreamAborted" not in log  # the server's own report of the abort is not repeated


def test_a_source_failing_before_its_first_item_gets_a_json_500(server: Server):
    reply = server.invoke(b"fail-at-once", "application/octet-stream")
    assert reply.status == 500 and reply.headers["content-type"] == "application/json"
    assert b"Traceback" not in reply.body


def test_a_client_that_goes_away_closes_the_generator(server: Server):
    name = f"gone-{threading.get_ident()}"
    reader = ChunkedReader(server, f"forever:{name}".encode(), "application/octet-stream")
    assert reader.chunk() == b"0\n"
    reader.close()
    wait_for(lambda: (server.base / "model" / f"closed-{name}").exists(), 10, "the generator's finally")
    assert server.invoke(b"plain", "application/octet-stream").body == b"plain"  # the worker serves on


def test_sigterm_lets_a_stream_in_flight_finish(tmp_path: Path, worker_class: str):
    server = start(tmp_path / "ml", SCRIPT, worker_class)
    try:
        wait_ready(server)
        reader = ChunkedReader(server, b"gated:term", "application/octet-stream")
        assert reader.chunk() == b"first term\n"
        server.process.send_signal(signal.SIGTERM)
        wait_for(lambda: "Handling signal: term" in server.output(), 5, "the master to take the signal")
        (server.base / "model" / "go-term").touch()
        assert reader.rest() == [b"second\n"]
        reader.close()
        # 20 s: gunicorn's gthread worker sometimes sits out the whole graceful timeout (10 s here) on stop.
        assert server.process.wait(20) == 0
    finally:
        stop(server)


def test_sse_frames_are_parseable_json(server: Server):
    reader = ChunkedReader(server, b"sse", "application/octet-stream")
    try:
        frames = b"".join(reader.rest()).decode().strip().split("\n\n")
    finally:
        reader.close()
    assert [json.loads(frame.removeprefix("data: ")) for frame in frames] == [{"n": 0}, {"n": 1}, {"n": 2}]
