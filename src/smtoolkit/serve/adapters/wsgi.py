"""The core router on WSGI, for gunicorn's sync and gthread workers (no Flask on the way).

A streamed response goes out chunked through the WSGI iterable (gunicorn sends each item as it comes on
HTTP/1.1); an async iterator is driven by a private event loop. After a 413 answered from Content-Length,
the unread body is drained (bounded in bytes and time) so that the client, still sending, reads the 413
instead of a connection reset.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from http import HTTPStatus
from typing import Any

from werkzeug.wsgi import get_input_stream

from smtoolkit.errors import PayloadTooLarge
from smtoolkit.serve.core.body import READ_CHUNK, BodyBuffer
from smtoolkit.serve.core.messages import Headers, Request, Response, Stream
from smtoolkit.serve.core.router import Router
from smtoolkit.serve.core.streams import as_bytes, log_failure

WSGIEnviron = dict[str, Any]
DRAIN_BYTES = 32 << 20
DRAIN_SECONDS = 5.0
_IDLE_SECONDS = 1.0
_SPECIAL = {"CONTENT_TYPE": "content-type", "CONTENT_LENGTH": "content-length"}


def status_line(status: int) -> str:
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return f"{status} Unknown"


def environ_headers(environ: WSGIEnviron) -> Iterator[tuple[str, str]]:
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            yield key[5:].replace("_", "-").lower(), value
        elif key in _SPECIAL and value:
            yield _SPECIAL[key], value


def read_body(environ: WSGIEnviron, request: Request, limit: int | None) -> bytes:
    """The body (413 once a chunked one passes the limit; a declared length is checked before)."""
    declared = request.content_length
    if declared == 0 or (declared is None and "chunked" not in request.headers.get("transfer-encoding", "")):
        return b""
    buffer = BodyBuffer(declared, limit)
    stream = environ["wsgi.input"] if declared is not None else get_input_stream(environ, max_content_length=None)
    while (want := buffer.remaining()) != 0:
        size = READ_CHUNK if want is None else min(READ_CHUNK, want)
        if limit is not None and want is None:
            size = min(size, limit + 1 - buffer.size)
        chunk = stream.read(size)
        if not chunk:
            break
        buffer.add(chunk)
    return buffer.finish()


def drain(environ: WSGIEnviron, declared: int) -> None:
    """Read and drop up to DRAIN_BYTES of an unread body, within DRAIN_SECONDS; gives up quietly."""
    sock = environ.get("gunicorn.socket")
    previous = sock.gettimeout() if sock is not None else None
    deadline, left = time.monotonic() + DRAIN_SECONDS, min(declared, DRAIN_BYTES)
    try:
        if sock is not None:
            sock.settimeout(_IDLE_SECONDS)
        while left > 0 and time.monotonic() < deadline and (chunk := environ["wsgi.input"].read(min(left, READ_CHUNK))):
            left -= len(chunk)
    except (OSError, ValueError):
        pass
    finally:
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.settimeout(previous)


class _Drained:
    """The body of a 413, then (once it is sent, in close()) the unread request body drained."""

    def __init__(self, body: bytes, environ: WSGIEnviron, declared: int) -> None:
        self.body, self.environ, self.declared = body, environ, declared

    def __iter__(self) -> Iterator[bytes]:
        yield self.body

    def close(self) -> None:
        drain(self.environ, self.declared)


class WSGIStream:
    """A streamed response as a WSGI iterable: items as they come; close() closes the source.

    `first()` fetches the first item before the status goes out, so that a source failing at once still gets
    a JSON error answer; later failures end the response unfinished (serve.core.streams)."""

    def __init__(self, source: Stream, where: str) -> None:
        self.where = where
        self.loop: asyncio.AbstractEventLoop | None = None
        self.source = source
        self.items = iter(self._items())
        self.head: Any = _END

    def first(self) -> None:
        self.head = next(self.items, _END)

    def __iter__(self) -> Iterator[bytes]:
        sent, item = 0, self.head
        try:
            while item is not _END:
                yield as_bytes(item)
                sent += 1
                item = next(self.items, _END)
        except Exception as error:
            raise log_failure(error, sent, self.where) from None

    def _items(self) -> Iterable[Any]:
        source = self.source
        if not isinstance(source, AsyncIterator):
            return source
        self.loop = loop = asyncio.new_event_loop()
        return _pull(lambda: loop.run_until_complete(anext(source, _END)))

    def close(self) -> None:
        source, loop = self.source, self.loop
        try:
            if isinstance(source, AsyncIterator):
                if loop is not None:
                    loop.run_until_complete(source.aclose())  # type: ignore[attr-defined]
            elif hasattr(source, "close"):
                source.close()
        finally:
            if loop is not None:
                loop.close()


_END = object()


def _pull(step: Callable[[], Any]) -> Iterator[Any]:
    while (item := step()) is not _END:
        yield item


class WSGIAdapter:
    """The WSGI app of a Router."""

    def __init__(self, router: Router) -> None:
        self.router = router

    def __call__(self, environ: WSGIEnviron, start_response: Any) -> Iterable[bytes]:
        method, path = environ["REQUEST_METHOD"], environ.get("PATH_INFO") or "/"
        request = Request(method, path, environ.get("QUERY_STRING", ""), Headers(environ_headers(environ)))
        router = self.router
        try:
            resolved = router.resolve(method, path)
            router.check_length(request.content_length)
            request.body = read_body(environ, request, router.body_limit)
        except Exception as error:
            response = router.error_response(error, request)
            if isinstance(error, PayloadTooLarge) and (declared := request.content_length):
                start_response(status_line(response.status), _with_length(response))
                return _Drained(response.body, environ, declared)
        else:
            response = router.finish(router.call(resolved, request), request)
        if response.stream is not None:
            stream = WSGIStream(response.stream, f"{method} {path}")
            try:
                stream.first()
            except Exception as error:
                stream.close()
                response = router.error_response(error, request)
            else:
                start_response(status_line(response.status), response.headers)  # no length: sent chunked
                return stream
        start_response(status_line(response.status), _with_length(response))
        return [response.body]


def _with_length(response: Response) -> list[tuple[str, str]]:
    return [*response.headers, ("Content-Length", str(len(response.body)))]


def wsgi_app(router: Router) -> WSGIAdapter:
    return WSGIAdapter(router)
