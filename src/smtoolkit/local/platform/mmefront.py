"""The platform's side of a multi-model endpoint, for `smtoolkit local mme`: a front on the user's port that
forwards to `serve` (SAGEMAKER_MULTI_MODEL=true) on a loopback port, loading a model on its first invocation.

The models are `<NAME>.tar.gz` files in one folder. The first invocation of NAME (POST /models/NAME/invoke, or
/invocations with X-Amzn-SageMaker-Target-Model) unpacks it safely into the work dir and loads it with
POST /models; on 507 the least recently invoked model is unloaded and the load retried, as the platform does.
Every other request is forwarded as is.
"""

from __future__ import annotations

import collections
import http.client
import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from smtoolkit.errors import NotFound
from smtoolkit.usercode.fetch import safe_extract

log = logging.getLogger(__name__)

ARCHIVE_SUFFIX = ".tar.gz"
TARGET_HEADERS = ("X-Amzn-SageMaker-Target-Model", "X-Amzn-Target-Model")
Answer = tuple[int, list[tuple[str, str]], bytes]


class ModelCache:
    """Which models the server holds, least recently invoked first; loads on demand, evicts on 507."""

    def __init__(self, archives: Path, unpack_dir: Path, backend_port: int) -> None:
        self.archives, self.unpack_dir, self.port = archives, unpack_dir, backend_port
        self._loaded: collections.OrderedDict[str, None] = collections.OrderedDict()
        self._lock = threading.Lock()

    def call(self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None) -> Answer:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=600)
        try:
            connection.request(method, path, body=body, headers=headers or {})
            response = connection.getresponse()
            return response.status, response.getheaders(), response.read()
        finally:
            connection.close()

    def _unpacked(self, name: str) -> Path:
        archive = self.archives / f"{name}{ARCHIVE_SUFFIX}"
        if "/" in name or name.startswith(".") or not archive.is_file():
            raise NotFound(f"no model {name}: {archive} is not a file")
        folder = self.unpack_dir / name
        if not folder.is_dir():
            partial = self.unpack_dir / f".{name}.partial"
            with archive.open("rb") as source:
                safe_extract(source, partial, source=str(archive))
            partial.rename(folder)
        return folder

    def ensure_loaded(self, name: str) -> None:
        """Load `name` unless loaded, unloading the least recently used model while the server answers 507."""
        with self._lock:
            if name in self._loaded:
                self._loaded.move_to_end(name)
                return
            body = json.dumps({"model_name": name, "url": str(self._unpacked(name))}).encode()
            while True:
                status, _, answer = self.call("POST", "/models", body, {"Content-Type": "application/json"})
                if status in (200, 409):
                    self._loaded[name] = None
                    return
                if status != 507 or not self._loaded:
                    raise LoadFailed(status, answer)
                evicted, _ = self._loaded.popitem(last=False)
                log.info("Unloading %s to make room for %s", evicted, name)
                self.call("DELETE", f"/models/{evicted}")

    def forget(self, name: str) -> None:
        with self._lock:
            self._loaded.pop(name, None)


class LoadFailed(Exception):
    def __init__(self, status: int, body: bytes) -> None:
        super().__init__(f"load answered {status}")
        self.status, self.body = status, body


def target_model(path: str, headers: dict[str, str]) -> str | None:
    parts = path.split("?")[0].split("/")
    if len(parts) == 4 and parts[1] == "models" and parts[3] == "invoke":
        return parts[2]
    if path.split("?")[0] == "/invocations":
        return next((headers[h.lower()] for h in TARGET_HEADERS if h.lower() in headers), None)
    return None


def make_handler(cache: ModelCache) -> type[BaseHTTPRequestHandler]:
    class Front(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _forward(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {k.lower(): v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
            name = target_model(self.path, headers)
            try:
                answer = self._invoke(name, body, headers)
            except NotFound as error:
                answer = 404, [("Content-Type", "application/json")], json.dumps({"message": str(error)}).encode()
            except LoadFailed as failed:
                answer = failed.status, [("Content-Type", "application/json")], failed.body
            status, reply_headers, reply = answer
            self.send_response(status)
            for key, value in reply_headers:
                if key.lower() not in ("content-length", "transfer-encoding", "connection", "date", "server"):
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def _invoke(self, name: str | None, body: bytes, headers: dict[str, str]) -> Answer:
            if name is None:
                return cache.call(self.command, self.path, body, headers)
            for _ in range(2):  # a model unloaded meanwhile (404) is loaded again once
                cache.ensure_loaded(name)
                answer = cache.call(self.command, self.path, body, headers)
                if answer[0] != 404:
                    return answer
                cache.forget(name)
            return answer

        do_GET = do_POST = do_DELETE = _forward

        def log_message(self, format: str, *args: object) -> None:
            log.debug("front: " + format, *args)

    return Front


def serve_front(cache: ModelCache, address: str, port: int) -> ThreadingHTTPServer:
    """The front, bound; call serve_forever() on it (shutdown() from another thread stops it)."""
    server = ThreadingHTTPServer((address, port), make_handler(cache))
    server.daemon_threads = True
    return server
