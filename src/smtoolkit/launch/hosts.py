"""Readiness: wait, with bounded backoff, for host names to resolve, for a host's port to open or for files to appear.

Each wait logs whom it waits for (at most every few seconds) and ends in a LaunchError naming the hosts,
the last error and the setting that bounds it; or, soon after `stopped()` names a signal (SIGTERM to the
launcher), in a LaunchError saying so.
"""

from __future__ import annotations

import logging
import signal
import socket
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from smtoolkit.errors import LaunchError

logger = logging.getLogger(__name__)

FIRST_DELAY_S = 0.01
MAX_DELAY_S = 0.25  # a connect or a lookup costs little; a late wake-up delays the whole job
LOG_EVERY_S = 5.0
TIMEOUT_SETTING = "SMTOOLKIT_HOST_WAIT_S"


Stopped = Callable[[], int | None]


def _never() -> int | None:
    return None


def _backoff(timeout: float, what: str, attempt: Callable[[], str | None], stopped: Stopped) -> None:
    """Call `attempt` (None: done, else what is still missing) until it succeeds, `timeout` passes or
    `stopped()` names a signal (checked after each attempt: at most MAX_DELAY_S plus an attempt late)."""
    deadline = time.monotonic() + timeout
    delay = FIRST_DELAY_S
    next_log = time.monotonic()
    while True:
        missing = attempt()
        if missing is None:
            return
        signum = stopped()
        if signum is not None:
            raise LaunchError(f"stopped by {signal.Signals(signum).name} while waiting for {what}: {missing}")
        now = time.monotonic()
        if now >= deadline:
            raise LaunchError(f"gave up after {timeout:g} s waiting for {what}: {missing} (raise {TIMEOUT_SETTING})")
        if now >= next_log:
            logger.info("waiting for %s: %s", what, missing)
            next_log = now + LOG_EVERY_S
        time.sleep(min(delay, max(deadline - now, 0.0)))
        delay = min(delay * 1.5, MAX_DELAY_S)


def wait_for_names(hosts: Iterable[str], timeout: float, stopped: Stopped = _never) -> None:
    """Until every host name resolves (the platform's DNS entries may come late)."""
    pending = list(dict.fromkeys(hosts))
    errors: dict[str, str] = {}

    def attempt() -> str | None:
        for host in list(pending):
            try:
                socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
            except OSError as exc:
                errors[host] = str(exc)
                continue
            pending.remove(host)
        return ", ".join(f"{host} ({errors[host]})" for host in pending) or None

    _backoff(timeout, "host names to resolve", attempt, stopped)


def wait_for_port(host: str, port: int, timeout: float, what: str, stopped: Stopped = _never) -> None:
    """Until a TCP connection to host:port succeeds (the connection is closed at once)."""

    def attempt() -> str | None:
        try:
            with socket.create_connection((host, port), timeout=min(2.0, max(timeout, 0.1))):
                return None
        except OSError as exc:
            return f"{host}:{port} ({exc})"

    _backoff(timeout, what, attempt, stopped)


def wait_for_files(paths: Iterable[Path], timeout: float, what: str, stopped: Stopped = _never) -> None:
    """Until every file exists (another launcher on this machine writes it when it is ready)."""
    pending = list(paths)

    def attempt() -> str | None:
        pending[:] = [path for path in pending if not path.exists()]
        return ", ".join(str(path) for path in pending) or None

    _backoff(timeout, what, attempt, stopped)
