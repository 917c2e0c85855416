"""The transform job's container: `python -m smtoolkit serve` with the host's tree as its base dir, on a free
loopback port, its output relayed as `<host> | <line>` (to our stdout and `<work dir>/<host>.log`).

It runs in its own session, so a Ctrl-C at the terminal reaches only `smtoolkit local`, which stops it the way
the platform stops a container: SIGTERM, then SIGKILL to all its processes after the grace period (at once when
`hurry` is set, after a second Ctrl-C).
"""

from __future__ import annotations

import collections
import logging
import subprocess
import threading
from collections.abc import Mapping
from pathlib import Path

from smtoolkit.proc.spawn import LineSink, exit_code_of, start_relayed
from smtoolkit.proc.stop import Hurry, stop_process

log = logging.getLogger(__name__)

TAIL_LINES = 20
_RELAY_JOIN_TIMEOUT = 2.0


class ModelServer:
    """One serve process; `start()`, then `stop()` (always, also after a failure)."""

    def __init__(self, host: str, argv: tuple[str, ...], env: Mapping[str, str], cwd: Path, sink: LineSink) -> None:
        self.host, self._argv, self._env, self._cwd, self._sink = host, argv, env, cwd, sink
        self._process: subprocess.Popen[bytes] | None = None
        self._relay: threading.Thread | None = None
        self._tail: collections.deque[str] = collections.deque(maxlen=TAIL_LINES)
        self.stopped_by_us = False

    def _on_line(self, host: str, line: bytes) -> None:
        self._tail.append(line.decode("utf-8", "replace").rstrip("\n"))
        self._sink(host, line)

    def start(self) -> None:
        self._process, self._relay = start_relayed(
            self.host, self._argv, self._env, self._cwd, self._on_line, what="the model server"
        )
        log.info("model server started on host %s (pid %d)", self.host, self._process.pid)

    def alive(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def exit_code(self) -> int | None:
        """None while running; 128+N when killed by signal N."""
        code = None if self._process is None else self._process.poll()
        return None if code is None else exit_code_of(code)

    def tail(self) -> str:
        """The server's last lines of output (for a failure reason)."""
        return "\n".join(self._tail)

    def stop(self, grace_period: float, hurry: Hurry | None = None) -> int | None:
        """SIGTERM, wait up to `grace_period` (or until `hurry` is set), then SIGKILL every process of the server."""
        if self._process is not None:
            self.stopped_by_us = self._process.poll() is None
            stop_process(self._process, grace_period, hurry=hurry, what="the model server")
        if self._relay is not None:
            self._relay.join(_RELAY_JOIN_TIMEOUT)
        return self.exit_code
