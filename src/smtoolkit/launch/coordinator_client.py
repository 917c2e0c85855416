"""The other hosts' side of the coordinator protocol (see coordinator.py): connect to the master's launcher in
the background, obey abort/collect, report once, wait for the verdict."""

from __future__ import annotations

import contextlib
import signal
import socket
import threading
import time
from collections.abc import Callable

from smtoolkit.errors import LaunchError
from smtoolkit.launch.coordinator import Message, read_messages, send_message
from smtoolkit.launch.hosts import Stopped, wait_for_names, wait_for_port

STOP_CHECK_S = 0.25


class CoordinatorClient:
    """On every other host: connect to the master's launcher (in the background, so this host's engine or
    sshd starts at once), obey abort/collect, wait for the verdict."""

    def __init__(
        self,
        host: str,
        master: str,
        port: int,
        timeout: float,
        on_abort: Callable[[], None],
        on_collect: Callable[[], Message],
        on_end: Callable[[], None],
        stopped: Stopped = lambda: None,
    ) -> None:
        self.host = host
        self._stopped = stopped
        self._on_abort = on_abort
        self._on_end = on_end
        self._on_collect = on_collect
        self._send_lock = threading.Lock()
        self._ended = threading.Event()
        self._sock: socket.socket | None = None
        self._closed = False
        self._report: Message | None = None  # sent once connected
        self._error: LaunchError | None = None
        self.verdict: Message | None = None
        self._thread = threading.Thread(
            target=self._run, args=(master, port, timeout), name="coordinator-client", daemon=True
        )
        self._thread.start()

    def _connect(self, master: str, port: int, timeout: float) -> socket.socket:
        wait_for_names([master], timeout, self._stopped)
        wait_for_port(master, port, timeout, f"the master's launcher ({master})", self._stopped)
        sock = socket.create_connection((master, port), timeout=timeout)
        sock.settimeout(None)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        return sock

    def _run(self, master: str, port: int, timeout: float) -> None:
        try:
            sock = self._connect(master, port, timeout)
        except (LaunchError, OSError) as exc:
            self._error = exc if isinstance(exc, LaunchError) else LaunchError(f"cannot reach {master}:{port}: {exc}")
            self._ended.set()
            self._on_abort()
            return
        with self._send_lock:
            self._sock = sock
            if self._closed:
                sock.close()
                return
        send_message(sock, {"type": "hello", "host": self.host}, self._send_lock)
        if self._report is not None:
            send_message(sock, self._report, self._send_lock)
        self._listen(sock)

    def _listen(self, sock: socket.socket) -> None:
        try:
            for message in read_messages(sock):
                kind = message.get("type")
                if kind == "abort":
                    self._on_abort()
                elif kind == "collect":
                    self.report(self._on_collect())
                elif kind == "end":
                    self.verdict = message.get("verdict")
                    break
        except (OSError, ValueError):
            pass
        finally:
            self._ended.set()
            if self.verdict is None:
                self._on_abort()
            self._on_end()

    def report(self, message: Message) -> None:
        """Once: this host's outcome (sent when connected, if not yet)."""
        with self._send_lock:
            if self._report is not None:
                return
            self._report = {**message, "type": "report", "host": self.host}
            sock = self._sock
        if sock is not None:
            send_message(sock, self._report, self._send_lock)

    def wait_verdict(self, timeout: float | None) -> Message:
        """The master's verdict; a LaunchError when none comes within `timeout` or `stopped()` names a signal."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self._ended.wait(
            STOP_CHECK_S if deadline is None else min(STOP_CHECK_S, deadline - time.monotonic())
        ):
            signum = self._stopped()
            if signum is not None:
                name = signal.Signals(signum).name
                raise LaunchError(f"stopped by {name} while waiting for the verdict of the master's launcher")
            if deadline is not None and time.monotonic() >= deadline:
                raise LaunchError(f"no verdict from the master's launcher within {timeout:g} s (SMTOOLKIT_HOST_WAIT_S)")
        if self._error is not None:
            raise self._error
        if self.verdict is None:
            raise LaunchError("the connection to the master's launcher broke before the job ended")
        return self.verdict

    def close(self) -> None:
        with self._send_lock:
            self._closed = True
            sock = self._sock
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        self._thread.join(timeout=2.0)
        if sock is not None:
            sock.close()
