"""Adaptive batching: requests that arrive close together, from any thread, share one call of a batch function.

Each request thread calls `Batcher.submit(item)` (or awaits `submit_async` on an event loop) and gets its own
result back. One dispatcher thread per worker process takes the oldest waiting item, waits for company until
that item has waited `max_wait_s` or `max_size` items are there, calls the function once with the combined
batch (see batching.data) and hands each waiter its share. Batches run one at a time: the model sees one batch
after another, never two at once. A batch that raises fails exactly its requests.

A waiter on an event loop holds an asyncio future, and a batch's results reach each loop in one call: one
wake-up of the loop per batch rather than one per request, and no thread held while the batch forms.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from smtoolkit.errors import ServeError
from smtoolkit.serve.batching import data as batchdata

logger = logging.getLogger(__name__)

BatchFunction = Callable[[Any], Any]


@dataclass(slots=True)
class _Waiter:
    """One request's item and where its share goes: a thread's Future, or a future of an event loop."""

    item: Any
    future: Future[Any] | asyncio.Future[Any]
    loop: asyncio.AbstractEventLoop | None = None
    arrived: float = field(default_factory=time.monotonic)

    def claim(self) -> bool:
        """Whether the request still wants its share (a cancelled await, as on a timeout, does not)."""
        if isinstance(self.future, Future):
            return self.future.set_running_or_notify_cancel()
        return not self.future.cancelled()


class Batcher:
    """Batches for one function (one model): `name` is the function's name in error messages."""

    def __init__(self, function: BatchFunction, name: str, max_size: int, max_wait_s: float) -> None:
        if max_size < 1 or max_wait_s < 0:
            raise ValueError(f"max_size must be >= 1 and max_wait_s >= 0, got {max_size} and {max_wait_s}")
        self.function, self.name = function, name
        self.max_size, self.max_wait_s = max_size, max_wait_s
        self._lock = threading.Lock()
        self._queue: queue.SimpleQueue[_Waiter | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._pid = 0
        self._closed = False

    def submit(self, item: Any) -> Any:
        """The result for `item`, once its batch has run; the batch's ServeError if it failed."""
        return self.enqueue(item).result()

    async def submit_async(self, item: Any) -> Any:
        """`submit` for a coroutine: the event loop stays free while the batch waits and runs."""
        return await self.enqueue_async(item)

    def enqueue(self, item: Any) -> Future[Any]:
        """The future result of `item`, for a thread to wait on."""
        future: Future[Any] = Future()
        self._add(_Waiter(item, future))
        return future

    def enqueue_async(self, item: Any) -> asyncio.Future[Any]:
        """The future result of `item` on the running event loop (call it on the loop's thread)."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._add(_Waiter(item, future, loop))
        return future

    def close(self) -> None:
        """Stop the dispatcher once what was submitted has run; later submits run alone in their own thread."""
        with self._lock:
            self._closed = True
            if self._thread is not None and self._pid == os.getpid():
                self._queue.put(None)

    def _add(self, waiter: _Waiter) -> None:
        with self._lock:
            closed = self._closed
            if not closed and (self._thread is None or self._pid != os.getpid()):  # first use, or forked
                self._queue = queue.SimpleQueue()
                self._thread = threading.Thread(target=self._dispatch, name=f"batcher-{self.name}", daemon=True)
                self._pid = os.getpid()
                self._thread.start()
            if not closed:
                self._queue.put(waiter)
        if closed:
            self._run([waiter])

    def _dispatch(self) -> None:
        pending = self._queue
        while (first := pending.get()) is not None:
            group, closing = [first], False
            deadline = first.arrived + self.max_wait_s
            while len(group) < self.max_size:
                try:
                    remaining = deadline - time.monotonic()
                    waiter = pending.get(timeout=remaining) if remaining > 0 else pending.get_nowait()
                except queue.Empty:
                    break
                if waiter is None:
                    closing = True
                    break
                group.append(waiter)
            self._run(group)
            if closing:
                break
        while True:  # closed: what raced in before the flag still gets an answer
            try:
                if (waiter := pending.get_nowait()) is not None:
                    self._run([waiter])
            except queue.Empty:
                return

    def _run(self, group: Sequence[_Waiter]) -> None:
        live = [w for w in group if w.claim()]
        if not live:
            return
        try:
            batch = batchdata.combine([w.item for w in live])
            results = batchdata.split(batch, self._call(batch.data), self.name)
        except Exception as exc:  # a ServeError as is; anything else (numpy running out of memory...) a 500
            error = exc if isinstance(exc, ServeError) else ServeError(f"batching for {self.name} failed: {exc}")
            _deliver(live, [copy.copy(error) for _ in live], failed=True)  # one instance per request
            return
        logger.debug("%s ran a batch of %d", self.name, len(live))
        _deliver(live, results, failed=False)

    def _call(self, data: Any) -> Any:
        try:
            return self.function(data)
        except ServeError:
            raise
        except Exception as exc:
            logger.exception("%s failed on a batch", self.name)
            raise ServeError(f"{self.name} failed with {type(exc).__name__}; see the server log") from exc


def _deliver(waiters: Sequence[_Waiter], outcomes: Sequence[Any], failed: bool) -> None:
    """Each waiter's outcome (a result, or an exception when `failed`): threads' futures at once, each event
    loop's in one call on that loop."""
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Any], Any]]] = {}
    for waiter, outcome in zip(waiters, outcomes, strict=True):
        future = waiter.future
        if waiter.loop is None:
            assert isinstance(future, Future)
            future.set_exception(outcome) if failed else future.set_result(outcome)
        else:
            assert isinstance(future, asyncio.Future)
            by_loop.setdefault(waiter.loop, []).append((future, outcome))
    for loop, pairs in by_loop.items():
        with contextlib.suppress(RuntimeError):  # a closed loop: its worker is exiting and nobody awaits these
            loop.call_soon_threadsafe(_settle, pairs, failed)


def _settle(pairs: Sequence[tuple[asyncio.Future[Any], Any]], failed: bool) -> None:
    for future, outcome in pairs:
        if not future.done():  # an await given up (timeout) leaves its future cancelled
            future.set_exception(outcome) if failed else future.set_result(outcome)
