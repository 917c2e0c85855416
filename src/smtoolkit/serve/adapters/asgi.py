"""The core router on ASGI, for the async worker (uvicorn on gunicorn, serve.adapters.uvicorn_worker).

Routes that run user code run in a bounded thread pool (SAGEMAKER_MODEL_SERVER_THREADS threads per worker), so
the event loop stays free for /ping and for reading and writing other connections. A streamed response goes out
as its items come; a client that disconnects closes the stream's source (its `finally` runs). A body over the
limit by its Content-Length is answered 413 unread, and uvicorn drops the rest of it as it arrives, keeping the
connection, so the client reads the 413 rather than a reset.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any, TypeVar

from smtoolkit.errors import ServeError
from smtoolkit.serve.adapters.placement import Placement
from smtoolkit.serve.core.body import BodyBuffer
from smtoolkit.serve.core.errors import error_response
from smtoolkit.serve.core.messages import Headers, Request, Response, Stream
from smtoolkit.serve.core.router import Resolved, Route, Router
from smtoolkit.serve.core.streams import as_bytes, log_failure

logger = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
_END = object()
T = TypeVar("T")


class HandlerTimeout(ServeError):
    kind = "HandlerTimeout"
    status = 504


def _latin1(pairs: list[tuple[bytes, bytes]]) -> Iterator[tuple[str, str]]:
    for name, value in pairs:
        yield name.decode("latin-1"), value.decode("latin-1")


def _wire_headers(response: Response, length: int | None) -> list[tuple[bytes, bytes]]:
    headers = [(name.encode("latin-1"), value.encode("latin-1")) for name, value in response.headers]
    if length is not None:
        headers.append((b"content-length", str(length).encode()))
    return headers


async def send_whole(send: Send, response: Response) -> None:
    start = {"type": "http.response.start", "status": response.status}
    await send({**start, "headers": _wire_headers(response, len(response.body))})
    await send({"type": "http.response.body", "body": response.body})


class ASGIAdapter:
    """The ASGI app of a Router; `threads` bound how many user calls run at once in this process."""

    def __init__(self, router: Router, threads: int, timeout: float, inline_calls: bool = True) -> None:
        self.router = router
        self.threads = threads
        self.timeout = timeout
        self.inline_calls = inline_calls
        self._placements: dict[Route, Placement] = {}
        self._pool: ThreadPoolExecutor | None = None  # made in the worker, after the fork

    @property
    def pool(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="smtoolkit-handler")
        return self._pool

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return  # lifespan is turned off in the worker; nothing else is served
        method, path = scope["method"], scope["path"]
        request = Request(method, path, scope["query_string"].decode("latin-1"), Headers(_latin1(scope["headers"])))
        router = self.router
        try:
            resolved = router.resolve(method, path)
            router.check_length(request.content_length)
            request.body = await self._read_body(receive, request)
        except Exception as error:
            response = router.error_response(error, request)
        else:
            response = await self._call(resolved, request)
        if response.stream is None:
            await send_whole(send, response)
            return
        await StreamSender(self, response, f"{method} {path}").run(send, receive)

    async def _call(self, resolved: Resolved, request: Request) -> Response:
        route, router = resolved.route, self.router
        if not route.blocking:
            return router.finish(router.call(resolved, request), request)
        deadline = asyncio.get_running_loop().time() + self.timeout
        try:
            answer = await self._run(route, partial(router.call, resolved, request), deadline)
            if isinstance(answer, Response):
                return answer
            value = await _until(answer.source.wait_async(), deadline)  # its batch, on the loop: no thread held
            return await self._run(route, partial(router.complete, answer, value, request), deadline)
        except TimeoutError:
            return self._timed_out(request)
        except Exception as error:  # the batch's (router.call and router.complete answer their own errors)
            return router.error_response(error, request)

    async def _run(self, route: Route, call: Callable[[], T], deadline: float) -> T:
        """`call` (user code) inline when its route has proven fast, else in the pool; TimeoutError past
        `deadline`."""
        placement = self._placements.get(route)
        if placement is None:
            placement = self._placements[route] = Placement(self.inline_calls)
        if placement.inline:
            return placement.timed(call, inline=True)
        loop = asyncio.get_running_loop()
        return await _until(loop.run_in_executor(self.pool, partial(placement.timed, call, False)), deadline)

    def _timed_out(self, request: Request) -> Response:
        logger.error(
            "A handler ran over %s s (SAGEMAKER_MODEL_SERVER_TIMEOUT); it cannot be stopped in its thread, "
            "so this worker stops and gunicorn starts a new one",
            self.timeout,
        )
        os.kill(os.getpid(), signal.SIGTERM)
        timeout = HandlerTimeout(f"the handler ran over {self.timeout} s")
        return self.router.error_response(timeout, request)

    async def _read_body(self, receive: Receive, request: Request) -> bytes:
        declared = request.content_length
        if declared == 0 or (declared is None and "chunked" not in request.headers.get("transfer-encoding", "")):
            return b""
        buffer = BodyBuffer(declared, self.router.body_limit)
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise ServeError("the client went away while sending the body", status=400)
            buffer.add(message.get("body", b""))
            if not message.get("more_body", False):
                return buffer.finish()


async def _until(future: asyncio.Future[T], deadline: float) -> T:
    """`future`'s result, or TimeoutError at `deadline` (loop time), `future` then cancelled: one timer, where
    asyncio.wait_for would add a task and a shield."""
    if future.done():
        return future.result()
    expired = False

    def expire() -> None:
        nonlocal expired
        expired = True
        future.cancel()

    timer = asyncio.get_running_loop().call_at(deadline, expire)
    try:
        return await future
    except asyncio.CancelledError:
        if expired:
            raise TimeoutError from None
        raise
    finally:
        timer.cancel()


class StreamSender:
    """Sends a streamed response. The first item is fetched before the status goes out, so that a source
    failing at once still gets a JSON error answer; later failures end the response unfinished."""

    def __init__(self, adapter: ASGIAdapter, response: Response, where: str) -> None:
        self.adapter, self.response, self.where = adapter, response, where
        source = response.stream
        assert source is not None
        self.source: Stream = source
        self.disconnected = asyncio.Event()

    async def _next(self) -> Any:
        source = self.source
        if isinstance(source, AsyncIterator):
            return await anext(source, _END)
        return await asyncio.get_running_loop().run_in_executor(self.adapter.pool, next, source, _END)

    async def _watch(self, receive: Receive) -> None:
        while (await receive())["type"] != "http.disconnect":
            pass
        self.disconnected.set()

    async def run(self, send: Send, receive: Receive) -> None:
        watcher = asyncio.ensure_future(self._watch(receive))
        try:
            await self._send_all(send)
        finally:
            watcher.cancel()
            await self._close()

    async def _send_all(self, send: Send) -> None:
        response, sent = self.response, 0
        try:
            first = await self._next()
        except Exception as error:
            await send_whole(send, error_response(error, *self.where.split(" ", 1)))
            return
        await send({"type": "http.response.start", "status": response.status, "headers": _wire_headers(response, None)})
        item = first
        try:
            while item is not _END and not self.disconnected.is_set():
                await send({"type": "http.response.body", "body": as_bytes(item), "more_body": True})
                sent += 1
                item = await self._next()
        except Exception as error:
            raise log_failure(error, sent, self.where) from None
        if not self.disconnected.is_set():
            await send({"type": "http.response.body", "body": b""})

    async def _close(self) -> None:
        source = self.source
        if isinstance(source, AsyncIterator):
            aclose = getattr(source, "aclose", None)
            if aclose is not None:
                await aclose()
        elif hasattr(source, "close"):
            await asyncio.get_running_loop().run_in_executor(self.adapter.pool, source.close)
