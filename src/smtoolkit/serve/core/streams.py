"""Streamed response bodies: what counts as a stream, its items as bytes, and how a failed stream ends.

A stream that raises after its first bytes went out cannot change its status any more: the adapter logs the
error once (with the user's traceback) and ends the response abnormally (the connection closes without the
last chunk of the chunked body), so that every HTTP client sees an incomplete body. The framing helpers of
serve.streaming also write an error frame first, which clients of those formats read as such.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any

logger = logging.getLogger(__name__)


class StreamAborted(Exception):
    """Raised to the server to cut a streamed response short; its cause is already logged."""


def is_stream(value: Any) -> bool:
    """True for a sync or async iterator (a generator, say) that is not a bytes-like or text value."""
    if isinstance(value, bytes | bytearray | memoryview | str):
        return False
    return isinstance(value, Iterator | AsyncIterator)


def as_bytes(item: Any) -> bytes:
    """A stream item as bytes: bytes-like as is, str as UTF-8; TypeError for anything else."""
    if isinstance(item, bytes):
        return item
    if isinstance(item, bytearray | memoryview):
        return bytes(item)
    if isinstance(item, str):
        return item.encode("utf-8")
    raise TypeError(f"a streamed response yielded a {type(item).__name__}; expected bytes or str")


def log_failure(error: BaseException, sent: int, where: str) -> StreamAborted:
    """Log a stream that failed after `sent` chunks; the StreamAborted to raise to the server."""
    logger.error("%s: the streamed response failed after %d chunks; closing it unfinished", where, sent, exc_info=error)
    return StreamAborted(f"{where}: stream failed after {sent} chunks")


class QuietStreamAborts(logging.Filter):
    """Drops the server's own report of a StreamAborted (gunicorn's, uvicorn's): the cause is logged already."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        return not isinstance(error, StreamAborted)


def quiet_stream_aborts(*names: str) -> None:
    """Install QuietStreamAborts on the named loggers, once each."""
    for name in names:
        target = logging.getLogger(name)
        if not any(isinstance(existing, QuietStreamAborts) for existing in target.filters):
            target.addFilter(QuietStreamAborts())
