"""Streamed answers in process: the framing helpers, the pipeline's streams, the WSGI adapter's iterable,
and the core router's routes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from werkzeug.test import Client

from smtoolkit.errors import NotFound
from smtoolkit.serve import json_lines, sse
from smtoolkit.serve.adapters.wsgi import wsgi_app
from smtoolkit.serve.core import Request, Response, Router
from smtoolkit.serve.core.errors import MethodNotAllowed
from smtoolkit.serve.core.streams import StreamAborted
from smtoolkit.serve.streaming import sse_frame
from tests.unit.serve.test_app import client, invoke, make_handler


def test_sse_frames_text_bytes_and_json_and_splits_lines():
    assert sse_frame("a\nb") == b"data: a\ndata: b\n\n"
    assert sse_frame({"x": 1}, "token") == b'event: token\ndata: {"x": 1}\n\n'
    body = sse(iter([b"raw", "text", [1]]))
    assert body.content_type == "text/event-stream"
    assert list(body.chunks) == [b"data: raw\n\n", b"data: text\n\n", b"data: [1]\n\n"]  # type: ignore[arg-type]


def _failing() -> Iterator[Any]:
    yield {"a": 1}
    raise RuntimeError("secret")


def test_json_lines_writes_an_error_line_then_raises():
    chunks: list[bytes] = []
    with pytest.raises(RuntimeError):
        for chunk in json_lines(_failing()).chunks:  # type: ignore[union-attr]
            chunks.append(chunk)
    assert chunks == [
        b'{"a": 1}\n',
        b'{"error": {"type": "InternalServerError", "message": "RuntimeError; see the server log"}}\n',
    ]


def test_async_sources_are_framed_and_closed():
    closed: list[bool] = []

    async def source() -> AsyncIterator[str]:
        try:
            yield "one"
            yield "two"
        finally:
            closed.append(True)

    async def first_only() -> bytes:
        chunks = sse(source()).chunks
        assert isinstance(chunks, AsyncIterator)
        first = await anext(chunks)
        await chunks.aclose()  # type: ignore[attr-defined]
        return first

    assert asyncio.run(first_only()) == b"data: one\n\n" and closed == [True]


def test_a_predict_fn_generator_streams_items_encoded_by_accept():
    def predict_fn(data, model):
        yield {"n": 1}
        yield "raw\n"

    response = invoke(client(make_handler(predict_fn=predict_fn)), Accept="application/jsonlines")
    assert response.status_code == 200 and "Content-Length" not in response.headers
    assert response.content_type == "application/jsonlines" and response.data == b'{"n": 1}\nraw\n'


def test_a_stream_failing_after_its_first_item_aborts_the_wsgi_body():
    def output_fn(prediction, accept):
        yield "ok"
        raise ValueError("late")

    response = invoke(client(make_handler(output_fn=output_fn)))
    assert response.status_code == 200  # the status went out with the first item
    with pytest.raises(StreamAborted):
        response.get_data()


def test_the_router_matches_exact_paths_then_patterns_and_answers_404_405():
    router = Router(body_limit=None)
    router.add("GET", "/models", lambda request: Response.json("list"))
    router.add("POST", "/models/{name}/invoke", lambda request: Response.json(request.path_params))
    assert router.resolve("GET", "/models").route.path == "/models"
    assert router.resolve("POST", "/models/m1/invoke").params == {"name": "m1"}
    with pytest.raises(NotFound):
        router.resolve("POST", "/models/a/b/invoke")
    with pytest.raises(MethodNotAllowed):
        router.resolve("DELETE", "/models")
    with pytest.raises(ValueError, match="registered twice"):
        router.add("GET", "/models", lambda request: Response())
    answer = Client(wsgi_app(router)).post("/models/m%2F/invoke")
    assert answer.status_code == 404 and answer.get_json()["type"] == "NotFound"
    assert router.handle(Request("POST", "/models/x/invoke")).body == b'{"name": "x"}'
