"""Framing helpers for streamed responses: Server-Sent Events and JSON Lines.

Return one of them from transform_fn, predict_fn or output_fn and the response goes out chunked as the
items come (see README "Streaming responses"):

    from smtoolkit.serve import sse

    def transform_fn(model, data, content_type, accept):
        return sse(model.generate(data))  # each item: a str, bytes, or a JSON-able value

If the source raises, the helper writes an error frame (`event: error` for SSE, a last line
`{"error": {...}}` for JSON Lines) and the server then ends the response unfinished (serve.core.streams).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from smtoolkit.errors import ServeError

Items = Iterable[Any] | AsyncIterable[Any]


@dataclass(frozen=True)
class StreamingBody:
    """Framed chunks and their media type: what sse() and json_lines() return."""

    chunks: Iterator[bytes] | AsyncIterator[bytes]
    content_type: str


def _error_payload(error: BaseException) -> dict[str, str]:
    if isinstance(error, ServeError):
        return {"type": error.kind, "message": str(error)}
    return {"type": "InternalServerError", "message": f"{type(error).__name__}; see the server log"}


def _text(item: Any) -> str:
    if isinstance(item, bytes | bytearray):
        return bytes(item).decode("utf-8")
    return item if isinstance(item, str) else json.dumps(item)


def sse_frame(data: Any, event: str | None = None) -> bytes:
    """One Server-Sent Event: `event:` (optional), a `data:` line per line of the text, a blank line."""
    head = f"event: {event}\n" if event else ""
    lines = "".join(f"data: {line}\n" for line in _text(data).split("\n"))
    return f"{head}{lines}\n".encode()


def json_line(item: Any) -> bytes:
    return (_text(item).rstrip("\n") + "\n").encode()


def _framed(items: Items, frame: Callable[[Any], bytes], error_frame: Callable[[BaseException], bytes]) -> Any:
    if isinstance(items, AsyncIterable):
        return _framed_async(items, frame, error_frame)
    return _framed_sync(items, frame, error_frame)


def _framed_sync(
    items: Iterable[Any], frame: Callable[[Any], bytes], error_frame: Callable[..., bytes]
) -> Iterator[bytes]:
    iterator = iter(items)
    try:
        for item in iterator:
            yield frame(item)
    except Exception as error:
        yield error_frame(error)
        raise
    finally:
        close = getattr(iterator, "close", None)
        if close is not None:
            close()  # a disconnected client closes this generator: close the source too, its finally runs


async def _framed_async(
    items: AsyncIterable[Any], frame: Callable[[Any], bytes], error_frame: Callable[..., bytes]
) -> AsyncIterator[bytes]:
    iterator = aiter(items)
    try:
        async for item in iterator:
            yield frame(item)
    except Exception as error:
        yield error_frame(error)
        raise
    finally:
        close = getattr(iterator, "aclose", None)
        if close is not None:
            await close()


def sse(events: Items, event: str | None = None) -> StreamingBody:
    """`events` as text/event-stream: each a `data:` frame (str and bytes as text, other values as JSON)."""

    def error_frame(error: BaseException) -> bytes:
        return sse_frame(json.dumps(_error_payload(error)), "error")

    return StreamingBody(_framed(events, lambda item: sse_frame(item, event), error_frame), "text/event-stream")


def json_lines(items: Items) -> StreamingBody:
    """`items` as application/jsonlines: one JSON value per line (str and bytes items as written)."""

    def error_frame(error: BaseException) -> bytes:
        return json_line({"error": _error_payload(error)})

    return StreamingBody(_framed(items, json_line, error_frame), "application/jsonlines")
