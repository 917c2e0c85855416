"""The launchers of a multi-host job talking to each other: one line of JSON per message over TCP.

The master's launcher listens (`Coordinator`); every other host's launcher connects (`CoordinatorClient`,
in coordinator_client.py).
- host -> master `report`: this host's engine ended (exit code, its ranks' error records);
- master -> hosts `abort`: a host failed or the master was stopped: stop your engine now;
- master -> hosts `collect`: the master's engine ended (MPI): report your ranks' errors;
- master -> hosts `end`: the job's verdict; every host writes the same outcome and exits.
A worker whose connection to the master breaks treats the job as failed.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

logger = logging.getLogger(__name__)

Message = dict[str, Any]


def send_message(sock: socket.socket, message: Message, lock: threading.Lock) -> bool:
    data = (json.dumps(message) + "\n").encode()
    with lock:
        try:
            sock.sendall(data)
        except OSError:
            return False
    return True


def read_messages(sock: socket.socket) -> Any:
    with sock.makefile("rb") as stream:
        for line in stream:
            with contextlib.suppress(ValueError):
                yield json.loads(line)


class Coordinator:
    """On the master: collects every host's report, decides and broadcasts the verdict."""

    def __init__(self, hosts: list[str], port: int, on_abort: Callable[[], None]) -> None:
        self._expected = set(hosts)
        self._on_abort = on_abort
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._peers: dict[str, socket.socket] = {}
        self._send_lock = threading.Lock()
        self.reports: dict[str, Message] = {}
        self.aborted = False
        self._asking = False  # reports were requested: a host that says hello later is asked at once
        self._server = socket.create_server(("", port), reuse_port=False, backlog=64)
        self._threads = [threading.Thread(target=self._accept, name="coordinator", daemon=True)]
        self._threads[0].start()

    def _accept(self) -> None:
        while True:
            try:
                sock, _ = self._server.accept()
            except OSError:
                return
            thread = threading.Thread(target=self._serve, args=(sock,), name="coordinator-peer", daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, sock: socket.socket) -> None:
        host = None
        try:
            for message in read_messages(sock):
                if message.get("type") == "hello":
                    host = str(message["host"])
                    with self._changed:
                        self._peers[host] = sock
                        self._changed.notify_all()
                    # A host that connects late still learns that the job is stopping, or that it should report.
                    if self.aborted:
                        send_message(sock, {"type": "abort"}, self._send_lock)
                    if self._asking:
                        send_message(sock, {"type": "collect"}, self._send_lock)
                elif message.get("type") == "report":
                    self.report(message)
        except (OSError, ValueError):
            pass
        finally:
            with self._changed:
                if host and self._peers.get(host) is sock:
                    del self._peers[host]
                    if host not in self.reports:
                        self.reports[host] = {"host": host, "exit_code": 1, "failures": [], "lost": True}
                    self._changed.notify_all()
            sock.close()

    def report(self, message: Message) -> None:
        """A host's engine ended (the master reports its own through here too)."""
        with self._changed:
            self.reports.setdefault(str(message["host"]), message)
            self._changed.notify_all()
        if message.get("exit_code") != 0:
            self.abort()

    def abort(self) -> None:
        """Once: tell every other host to stop, and stop this one."""
        with self._lock:
            if self.aborted:
                return
            self.aborted = True
            peers = list(self._peers.values())
        logger.warning("stopping the job on every host")
        for sock in peers:
            send_message(sock, {"type": "abort"}, self._send_lock)
        self._on_abort()

    def collect(self, timeout: float, ask: bool) -> dict[str, Message]:
        """Wait, bounded, for every host's report; `ask`: request them (the master's mpirun has ended)."""
        if ask:
            with self._lock:
                self._asking = True
                peers = list(self._peers.values())
            for sock in peers:
                send_message(sock, {"type": "collect"}, self._send_lock)
        deadline = time.monotonic() + timeout
        with self._changed:
            while set(self.reports) < self._expected:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._changed.wait(left)
            for host in sorted(self._expected - set(self.reports)):
                logger.error("no report from host %s within %g s", host, timeout)
                self.reports[host] = {"host": host, "exit_code": 1, "failures": [], "missing": timeout}
            return dict(self.reports)

    def finish(self, verdict: Message) -> None:
        with self._lock:
            peers = list(self._peers.values())
        for sock in peers:
            send_message(sock, {"type": "end", "verdict": verdict}, self._send_lock)
        self.close()

    def close(self) -> None:
        """Stop listening and end every peer's connection (their threads close the sockets)."""
        with contextlib.suppress(OSError):
            self._server.shutdown(socket.SHUT_RDWR)
        self._server.close()
        with self._lock:
            peers = list(self._peers.values())
        for sock in peers:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        for thread in self._threads:
            thread.join(timeout=2.0)
