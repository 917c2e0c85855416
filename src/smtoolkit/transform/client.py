"""HTTP to the model server: /ping, /execution-parameters, and POST /invocations with a timeout, retries and
every status checked. One InvocationClient per worker thread keeps its own keep-alive connection."""

from __future__ import annotations

import http.client
import json
import logging
import socket
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

from smtoolkit.errors import ConfigError, SmtoolkitError

logger = logging.getLogger(__name__)

PING_TIMEOUT_S = 2.0  # the platform's /ping timeout
RETRY_BACKOFF_S = 0.2
ERROR_BODY_CHARS = 300
# Answers a retry cannot change: 501 Not Implemented and 505 HTTP Version Not Supported.
FINAL_SERVER_ERRORS = frozenset({501, 505})
TOO_MANY_REQUESTS = 429
Body = bytes | bytearray | Callable[[], Iterator[bytes]]


class InvocationError(SmtoolkitError):
    """POST /invocations failed after every try; the message has the last status (or error) and body start."""


def parse_endpoint(url: str) -> tuple[str, int]:
    parts = urlsplit(url if "://" in url else f"http://{url}")
    if parts.scheme != "http" or not parts.hostname:
        raise ConfigError.single("--endpoint", f"expected http://HOST:PORT, got {url!r}")
    return parts.hostname, parts.port or 80


def may_succeed_on_retry(status: int) -> bool:
    """Whether an answer with `status` may change on another try: 429 and 5xx other than 501 and 505. A 4xx
    (406, 415, 413...) is the request's own fault and is answered the same every time."""
    return status == TOO_MANY_REQUESTS or (500 <= status < 600 and status not in FINAL_SERVER_ERRORS)


def _describe(status: int, body: bytes) -> str:
    text = body[:ERROR_BODY_CHARS].decode("utf-8", "replace").strip()
    return f"HTTP {status}" + (f": {text}" if text else "")


class _Connection(http.client.HTTPConnection):
    """An HTTPConnection with TCP_NODELAY: headers and a large body go out as two sends (no 6 MiB copy to join
    them), which must not wait for a delayed ACK."""

    def connect(self) -> None:
        super().connect()
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class InvocationClient:
    def __init__(self, host: str, port: int, timeout: float, headers: dict[str, str], max_retries: int) -> None:
        self.host, self.port, self.timeout = host, port, timeout
        self.headers, self.max_retries = headers, max_retries
        self.connection: _Connection | None = None

    def _connection(self) -> _Connection:
        if self.connection is None:
            self.connection = _Connection(self.host, self.port, timeout=self.timeout)
        return self.connection

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
            self.connection = None

    def request(
        self, method: str, path: str, body: Body | None = None, headers: dict[str, str] | None = None
    ) -> tuple[int, bytes]:
        """One request on the keep-alive connection; the connection is dropped after any error."""
        connection = self._connection()
        try:
            # bytes would be copied once more to join the headers; a memoryview is sent as it is
            payload = body() if callable(body) else memoryview(body) if body else body
            connection.request(method, path, body=payload, headers=headers or {})
            response = connection.getresponse()
            data = response.read()
            if response.will_close:
                self.close()
            return response.status, data
        except BaseException:
            self.close()
            raise

    def invoke(self, body: Body) -> bytes:
        """POST /invocations; retried on a timeout, a connection error, or a status that may change
        (`may_succeed_on_retry`); any other non-2xx status fails at once."""
        last, tries = "", 0
        for attempt in range(self.max_retries + 1):
            tries = attempt + 1
            if attempt:
                time.sleep(RETRY_BACKOFF_S * 2 ** (attempt - 1))
            try:
                status, data = self.request("POST", "/invocations", body, self.headers)
            except TimeoutError:
                last = f"no response within {self.timeout:g} s (InvocationsTimeoutInSeconds)"
            except (OSError, http.client.HTTPException) as exc:
                last = f"{type(exc).__name__}: {exc}"
            else:
                if 200 <= status < 300:
                    return data
                last = _describe(status, data)
                if not may_succeed_on_retry(status):
                    break
            logger.debug("POST /invocations try %d failed: %s", attempt + 1, last)
        raise InvocationError(f"POST /invocations failed {tries} time{'s' * (tries > 1)}; last: {last}")


def wait_for_ping(host: str, port: int, timeout: float, alive: Callable[[], bool] = lambda: True) -> None:
    """Poll GET /ping until 200 (each try times out after 2 s); SmtoolkitError after `timeout` seconds or
    once `alive()` says the server process is gone."""
    client = InvocationClient(host, port, PING_TIMEOUT_S, {}, 0)
    deadline, last = time.monotonic() + timeout, "no answer"
    try:
        while time.monotonic() < deadline:
            if not alive():
                raise SmtoolkitError(f"the model server exited before answering /ping ({last})")
            try:
                status, data = client.request("GET", "/ping")
                if status == 200:
                    return
                last = _describe(status, data)
            except (OSError, http.client.HTTPException) as exc:
                last = f"{type(exc).__name__}: {exc}"
            time.sleep(0.1)
    finally:
        client.close()
    raise SmtoolkitError(f"http://{host}:{port}/ping did not answer 200 within {timeout:g} s (last: {last})")


def execution_parameters(host: str, port: int) -> dict[str, Any] | None:
    """GET /execution-parameters: the JSON object, or None when the server has none (any non-200)."""
    client = InvocationClient(host, port, 10.0, {}, 0)
    try:
        status, data = client.request("GET", "/execution-parameters")
    except (OSError, http.client.HTTPException) as exc:
        logger.warning("GET /execution-parameters failed (%s); using the defaults", exc)
        return None
    finally:
        client.close()
    if status != 200:
        logger.info("GET /execution-parameters: HTTP %d; using the request's values and the defaults", status)
        return None
    try:
        value = json.loads(data)
    except ValueError:
        logger.warning("GET /execution-parameters: the body is not JSON; ignored")
        return None
    return value if isinstance(value, dict) else None
