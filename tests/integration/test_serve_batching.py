"""Adaptive batching through real gunicorn over HTTP: concurrent requests share batch_predict_fn calls no larger
than SAGEMAKER_MAX_BATCH_SIZE, each answer is its own request's, and a batch that raises fails exactly its
requests with the contract's JSON error."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.integration.serving import Reply, Server, start, stop, wait_ready

# Each call appends the ids it got, one JSON line per batch, before it answers (or raises on a "poison" id).
SCRIPT = """
import json, os, time

def model_fn(model_dir):
    return os.environ["BATCH_LOG"]

def batch_predict_fn(batch, model):
    ids = [item["id"] for item in batch]
    with open(model, "a") as log:
        log.write(json.dumps(ids) + "\\n")
    time.sleep(0.05)  # one call costs what a model on a device does: requests queue up meanwhile
    if "poison" in ids:
        raise ValueError("a poisoned batch")
    return [{"id": item["id"], "double": item["x"] * 2} for item in batch]
"""
MAX_BATCH = 8
CONCURRENCY = 64


@pytest.fixture(scope="module", params=("async", "gthread"))
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    base = tmp_path_factory.mktemp("batching")
    started = start(
        base,
        SCRIPT,
        request.param,
        SAGEMAKER_MAX_BATCH_SIZE=str(MAX_BATCH),
        SAGEMAKER_MAX_BATCH_WAIT_MS="20",
        SAGEMAKER_MODEL_SERVER_THREADS="32",  # a batch gathers the requests a worker runs at once
        BATCH_LOG=str(base / "batches.jsonl"),
    )
    try:
        wait_ready(started)
        yield started
    finally:
        stop(started)


def _batches(server: Server) -> list[list[Any]]:
    path = server.base / "batches.jsonl"
    lines = path.read_text().splitlines() if path.exists() else []
    return [json.loads(line) for line in lines]


def _send_all(server: Server, ids: Sequence[object]) -> list[Reply]:
    def send(item: object) -> Reply:
        body = json.dumps({"id": item, "x": item if isinstance(item, int) else 0}).encode()
        return server.invoke(body, "application/json")

    with ThreadPoolExecutor(len(ids)) as pool:
        return list(pool.map(send, ids))


def test_concurrent_requests_share_batches_within_the_maximum_and_get_their_own_answers(server: Server) -> None:
    before = len(_batches(server))
    ids = list(range(1000, 1000 + CONCURRENCY))
    replies = _send_all(server, ids)
    for item, reply in zip(ids, replies, strict=True):
        assert reply.status == 200, reply.body
        assert reply.json() == {"id": item, "double": item * 2}
    batches = _batches(server)[before:]
    assert sorted(i for batch in batches for i in batch) == ids  # every request in exactly one call
    assert max(len(batch) for batch in batches) <= MAX_BATCH
    assert len(batches) < CONCURRENCY / 2, batches  # batched, not one call per request


def test_a_batch_that_raises_fails_exactly_its_requests_with_the_json_error(server: Server) -> None:
    before = len(_batches(server))
    ids: list[object] = [*range(2000, 2000 + 23), "poison"]
    replies = dict(zip(ids, _send_all(server, ids), strict=True))
    poisoned = next(batch for batch in _batches(server)[before:] if "poison" in batch)
    for item, reply in replies.items():
        if item in poisoned:
            assert reply.status == 500
            assert reply.headers["content-type"] == "application/json"
            assert reply.json() == {
                "code": 500,
                "type": "ServeError",
                "message": "batch_predict_fn failed with ValueError; see the server log",
            }
        else:
            assert (reply.status, reply.json()["id"]) == (200, item)
    assert "Traceback" in server.output()  # the traceback goes to the log, never to the client


def test_on_async_a_request_waiting_for_its_batch_holds_no_thread(tmp_path: Any) -> None:
    """One handler thread per worker, yet 16 concurrent requests share batches of up to 8: each waits for its
    batch on the event loop; on gthread the same settings would give batches of one."""
    started = start(
        tmp_path,
        SCRIPT,
        "async",
        SAGEMAKER_MODEL_SERVER_WORKERS="1",
        SAGEMAKER_MODEL_SERVER_THREADS="1",
        SAGEMAKER_MAX_BATCH_SIZE=str(MAX_BATCH),
        SAGEMAKER_MAX_BATCH_WAIT_MS="50",
        BATCH_LOG=str(tmp_path / "batches.jsonl"),
    )
    try:
        wait_ready(started)
        ids = list(range(3000, 3016))
        replies = _send_all(started, ids)
        assert [reply.json()["id"] for reply in replies] == ids
        batches = _batches(started)
        assert sorted(i for batch in batches for i in batch) == ids
        assert max(len(batch) for batch in batches) == MAX_BATCH, batches
        assert "caps batches" not in started.output()
    finally:
        stop(started)


def test_a_batch_running_past_the_timeout_is_a_504_and_the_worker_is_replaced(tmp_path: Any) -> None:
    script = "import time\n\ndef model_fn(model_dir):\n    return None\n\ndef batch_predict_fn(batch, model):\n"
    script += "    time.sleep(3)\n    return batch\n"
    started = start(tmp_path, script, "async", SAGEMAKER_MODEL_SERVER_TIMEOUT="1", SAGEMAKER_MODEL_SERVER_WORKERS="1")
    try:
        wait_ready(started)
        reply = started.invoke(b"[1]", "application/json")
        assert reply.status == 504, reply.body
        assert reply.json()["type"] == "HandlerTimeout"
        wait_ready(started)  # the replacement worker answers
    finally:
        stop(started)
