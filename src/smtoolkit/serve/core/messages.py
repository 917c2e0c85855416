"""The values the serving core works on: a Request and a Response, with no knowledge of WSGI or ASGI.

A Response body is bytes, or a stream (a sync or async iterator of bytes) sent chunked as it is produced.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

Stream = Iterator[bytes] | AsyncIterator[bytes]
T = TypeVar("T")
U = TypeVar("U")


class Headers(Mapping[str, str]):
    """Request headers, looked up case-insensitively; repeated headers read as one, joined with ", "."""

    __slots__ = ("_items", "_index")

    def __init__(self, items: Iterable[tuple[str, str]] = ()) -> None:
        self._items = list(items)
        self._index: dict[str, str] | None = None  # built on first lookup: most requests ask for few headers

    def _lookup(self) -> dict[str, str]:
        if self._index is None:
            index: dict[str, str] = {}
            for name, value in self._items:
                key = name.lower()
                index[key] = f"{index[key]}, {value}" if key in index else value
            self._index = index
        return self._index

    def __getitem__(self, name: str) -> str:
        return self._lookup()[name.lower()]

    def get(self, name: str, default: Any = None) -> Any:
        return self._lookup().get(name.lower(), default)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._lookup()

    def __iter__(self) -> Iterator[str]:
        return iter(self._lookup())

    def __len__(self) -> int:
        return len(self._lookup())

    def pairs(self) -> list[tuple[str, str]]:
        """Every header as received, in order, repeats kept."""
        return list(self._items)


@dataclass(slots=True)
class Request:
    method: str
    path: str
    query: str = ""
    headers: Headers = field(default_factory=Headers)
    body: bytes = b""
    path_params: dict[str, str] = field(default_factory=dict)

    @property
    def content_length(self) -> int | None:
        """Content-Length as a number; None when absent, malformed, or the body is chunked."""
        raw = self.headers.get("content-length")
        if not raw or not (raw.isascii() and raw.isdigit()) or "chunked" in self.headers.get("transfer-encoding", ""):
            return None
        return int(raw)


@dataclass(slots=True)
class Response:
    """`headers` hold neither Content-Length nor Transfer-Encoding: the adapters set them from the body."""

    status: int = 200
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    stream: Stream | None = None
    close_connection: bool = False  # the adapter should not keep the connection alive after this answer

    @classmethod
    def of(
        cls, body: bytes, content_type: str, status: int = 200, headers: Mapping[str, str] | None = None
    ) -> Response:
        answer = [("Content-Type", content_type)]
        if headers:
            answer.extend(headers.items())
        return cls(status, answer, body)

    @classmethod
    def json(cls, payload: Any, status: int = 200) -> Response:
        return cls.of(json.dumps(payload).encode(), "application/json", status)


class Deferred(Protocol):
    """A value computed elsewhere (a request's share of a batch), to wait for in a thread or on an event loop."""

    def wait(self) -> Any: ...

    def wait_async(self) -> asyncio.Future[Any]:
        """A future of the running loop (call it on the loop's thread)."""
        ...


@dataclass(frozen=True, slots=True)
class Pending(Generic[T]):
    """An answer waiting on work done elsewhere (a batch shared with other requests): `source` gives a value
    and `then` makes the answer of it. A sync adapter waits in its thread (`finish`); the async one awaits
    `source.wait_async()` on its event loop, so that a request waiting for its batch holds no thread."""

    source: Deferred
    then: Callable[[Any], T]

    def map(self, function: Callable[[T], U]) -> Pending[U]:
        then = self.then
        return Pending(self.source, lambda value: function(then(value)))

    def finish(self) -> T:
        """The answer, waiting in this thread; raises what the source or `then` raised."""
        return self.then(self.source.wait())
