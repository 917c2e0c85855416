"""The HTTP edge shared by the Flask routes and the /invocations fast path: the request body from a WSGI
environ (with the payload limit), and errors as JSON bodies.

This is the one place where errors become HTTP: a ServeError gives its status and a JSON body with its message,
a werkzeug HTTPException its own status, anything else a JSON 500; tracebacks go to the log, never to the client.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from werkzeug.exceptions import HTTPException
from werkzeug.wsgi import get_input_stream

from smtoolkit.errors import BadRequest, PayloadTooLarge, ServeError

logger = logging.getLogger(__name__)

READ_CHUNK = 1 << 16
WSGIEnviron = dict[str, Any]


def declared_length(environ: WSGIEnviron) -> int | None:
    """Content-Length as a number, or None (absent, malformed, or a chunked body)."""
    raw = environ.get("CONTENT_LENGTH")
    if not raw or not (raw.isascii() and raw.isdigit()) or "chunked" in environ.get("HTTP_TRANSFER_ENCODING", ""):
        return None
    return int(raw)


def read_body(environ: WSGIEnviron, limit: int | None) -> bytes:
    """The request body: 413 from Content-Length before reading, and never more than limit + 1 bytes read."""
    length = declared_length(environ)
    if limit is not None and length is not None and length > limit:
        raise PayloadTooLarge(f"the body has {length} bytes; the limit is {limit} (SAGEMAKER_MAX_PAYLOAD_IN_MB)")
    if length is not None:  # the usual case: straight from the server's input stream, no wrapper
        body: bytes = environ["wsgi.input"].read(length) if length else b""
        if len(body) < length:
            raise BadRequest(f"the body ended after {len(body)} of the {length} bytes of its Content-Length")
        return body
    stream = get_input_stream(environ, max_content_length=None)  # chunked: the server marks where it ends
    chunks, size = [], 0
    while chunk := stream.read(READ_CHUNK if limit is None else min(READ_CHUNK, limit + 1 - size)):
        chunks.append(chunk)
        size += len(chunk)
        if limit is not None and size > limit:
            raise PayloadTooLarge(f"the body is over the limit of {limit} bytes (SAGEMAKER_MAX_PAYLOAD_IN_MB)")
    return b"".join(chunks)


def json_body(status: int, kind: str, message: str) -> bytes:
    return json.dumps({"code": status, "type": kind, "message": message}).encode()


def error_answer(error: BaseException, method: str, path: str) -> tuple[int, bytes]:
    """(status, JSON body) for an error raised while answering `method path`; logged as it deserves."""
    if isinstance(error, ServeError):
        if error.status >= 500:
            logger.error("%s %s: %s", method, path, error, exc_info=error)
        else:
            logger.info("%s %s: %d %s", method, path, error.status, error)
        return error.status, json_body(error.status, error.kind, str(error))
    if isinstance(error, HTTPException):
        status = error.code or 500
        return status, json_body(status, error.name.replace(" ", ""), error.description or error.name)
    logger.error("Unexpected error on %s %s", method, path, exc_info=error)
    return 500, json_body(500, "InternalServerError", "internal server error; see the server log")
