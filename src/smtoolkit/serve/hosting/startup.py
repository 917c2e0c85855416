"""Loading the model without going dark: 503 answers while model_fn runs, and a bound on how long it runs.

In the gunicorn master (the model loaded once, before the workers fork) `load_while_answering` runs the
load in a thread and, meanwhile, answers every connection on the listening sockets with a 503, so /ping
says "not ready" instead of timing out. In a worker (per-worker loading) `load_in_background` loads
while the worker already serves (/ping is 503 there until the model is in).

Once start-up is over (in the master before each fork, in a worker after its own load), `freeze_startup_objects`
takes what it made (imports, the model) out of the garbage collector's generations: otherwise every full
collection walks them all, pausing the worker for tens of milliseconds a few times a second under load (the
p99 of a busy endpoint), and its writes to their headers unshare the pages forked workers share.
"""

from __future__ import annotations

import contextlib
import gc
import json
import logging
import os
import select
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from types import FrameType

from smtoolkit.errors import LaunchError, users_part

logger = logging.getLogger(__name__)

_BODY = json.dumps({"code": 503, "type": "ModelNotReady", "message": "the model is loading"}).encode()
LOADING_RESPONSE = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
    + f"Content-Length: {len(_BODY)}\r\nConnection: close\r\n\r\n".encode()
    + _BODY
)
_POLL_S = 0.05
_CLIENT_TIMEOUT_S = 0.5
_MAX_HEAD = 1 << 16
WORKER_BOOT_ERROR = 3  # gunicorn's arbiter halts the server when a worker exits with it


def _answer(connection: socket.socket) -> None:
    """Read the request head (bounded in time and size), answer 503, close."""
    with contextlib.closing(connection):
        connection.settimeout(_CLIENT_TIMEOUT_S)
        head = b""
        with contextlib.suppress(OSError):
            while b"\r\n\r\n" not in head and len(head) < _MAX_HEAD:
                chunk = connection.recv(4096)
                if not chunk:
                    break
                head += chunk
            connection.sendall(LOADING_RESPONSE)


def answer_pending(sockets: Sequence[socket.socket], wait: float) -> None:
    """Answer 503 to every connection waiting on `sockets` (within `wait` seconds for the first)."""
    readable, _, _ = select.select(sockets, [], [], wait)
    for listener in readable:
        try:
            connection, _ = listener.accept()
        except (BlockingIOError, InterruptedError):
            continue
        _answer(connection)


@contextlib.contextmanager
def _termination_flag() -> Iterator[threading.Event]:
    """An event set by SIGTERM or SIGINT while the block runs; the previous handlers come back after."""
    flag = threading.Event()

    def handler(signum: int, frame: FrameType | None) -> None:
        flag.set()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield flag
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def load_while_answering(load: Callable[[], object], sockets: Sequence[socket.socket], timeout: float) -> bool:
    """Run `load`, answering 503 on `sockets` meanwhile. False when SIGTERM/SIGINT came first.

    Raises what `load` raised, or LaunchError when it runs past `timeout` seconds.
    """
    errors: list[BaseException] = []

    def target() -> None:
        try:
            load()
        except BaseException as exc:  # handed to the main thread
            errors.append(exc)

    thread = threading.Thread(target=target, name="smtoolkit-model-load", daemon=True)
    deadline = time.monotonic() + timeout
    with _termination_flag() as terminated:
        thread.start()
        while thread.is_alive():
            if terminated.is_set():
                return False
            if time.monotonic() > deadline:
                raise LaunchError(f"loading the model took over {timeout} s (SAGEMAKER_STARTUP_TIMEOUT)")
            answer_pending(sockets, _POLL_S)
    if errors:
        raise errors[0]
    return True


def _exit_worker(message: str, error: BaseException | None = None) -> None:
    logger.error("%s", message, exc_info=error)
    for handler in logging.getLogger().handlers:
        handler.flush()
    sys.stderr.flush()
    os._exit(WORKER_BOOT_ERROR)


def load_in_background(load: Callable[[], object], is_ready: Callable[[], bool], timeout: float) -> None:
    """Per-worker loading: `load` in a thread; the worker exits (and gunicorn stops) if it fails or
    runs past `timeout` seconds."""

    def target() -> None:
        try:
            load()
        except BaseException as exc:
            watchdog.cancel()  # one verdict per load: the timeout must not fire later as well
            _exit_worker(f"worker {os.getpid()}: loading the model failed: {exc}", users_part(exc.__cause__ or exc))
        else:
            watchdog.cancel()

    def expire() -> None:
        if not is_ready():
            _exit_worker(f"worker {os.getpid()}: loading the model took over {timeout} s (SAGEMAKER_STARTUP_TIMEOUT)")

    watchdog = threading.Timer(timeout, expire)
    watchdog.daemon = True
    watchdog.start()
    threading.Thread(target=target, name="smtoolkit-model-load", daemon=True).start()


def freeze_startup_objects() -> None:
    """gc.freeze(): every object alive now is left out of later collections (freed by reference counting
    still)."""
    gc.freeze()
