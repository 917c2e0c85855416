"""Stopping a child the way the platform stops a container: a stop signal, a grace period, then SIGKILL to every
process it started. The one implementation; the supervisors that wait on their own signal loop use GraceClock.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import signal
import subprocess
import time

from smtoolkit.proc.groups import signal_group
from smtoolkit.proc.signals import signal_name

log = logging.getLogger(__name__)


class GraceClock:
    """The grace period after a stop request: started once, then due when it runs out, until escalated."""

    def __init__(self, seconds: float) -> None:
        self.seconds = max(seconds, 0.0)
        self.deadline: float | None = None
        self.escalated = False

    def start(self) -> bool:
        """Start the clock; False when it was already running."""
        if self.deadline is not None:
            return False
        self.deadline = time.monotonic() + self.seconds
        return True

    def due(self) -> bool:
        """Whether the period has run out and SIGKILL is still to be sent (the caller then calls `escalate`)."""
        return self.deadline is not None and not self.escalated and time.monotonic() >= self.deadline

    def escalate(self) -> None:
        self.escalated = True

    def seconds_left(self) -> float | None:
        """Until the deadline; None when there is nothing to wait for."""
        if self.deadline is None or self.escalated:
            return None
        return max(self.deadline - time.monotonic(), 0.0)


def kill_tree(leader: int) -> None:
    """SIGKILL the process group `leader` leads (a child started in its own session) and every descendant of it,
    those that left the group included. Found before anything is killed: the dead are re-parented."""
    import psutil

    try:
        found = [child.pid for child in psutil.Process(leader).children(recursive=True)]
    except psutil.Error:
        found = []
    signal_group(leader, signal.SIGKILL)
    for pid in (leader, *found):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)


class Hurry:
    """A flag that a signal handler may set (one byte down a pipe: no lock to deadlock on) and that a wait can
    select on: a second Ctrl-C that cuts the grace period short. Close it when done."""

    def __init__(self) -> None:
        self._read, self._write = os.pipe()
        os.set_blocking(self._write, False)
        self._set = False

    def set(self) -> None:
        self._set = True
        with contextlib.suppress(BlockingIOError, OSError):
            os.write(self._write, b"\0")

    def is_set(self) -> bool:
        return self._set

    def fileno(self) -> int:
        return self._read

    def close(self) -> None:
        for fd in (self._read, self._write):
            with contextlib.suppress(OSError):
                os.close(fd)


def wait_for_exit(process: subprocess.Popen[bytes], timeout: float, hurry: Hurry | None = None) -> bool:
    """Wait until `process` exits, `timeout` seconds pass or `hurry` is set; whether it has exited."""
    if hurry is not None and hurry.is_set():
        return process.poll() is not None
    try:
        exited = os.pidfd_open(process.pid)
    except (AttributeError, OSError):  # no pidfd (not Linux, or gone already): Popen's own wait
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(max(timeout, 0.0))
        return process.poll() is not None
    try:
        waited = [exited] if hurry is None else [exited, hurry.fileno()]
        select.select(waited, [], [], max(timeout, 0.0))
    finally:
        os.close(exited)
    return process.poll() is not None


def wait_for_pids(pids: list[int], timeout: float) -> bool:
    """Wait until every process in `pids` has exited (zombies count as exited: they run nothing) or `timeout`
    seconds pass; whether all have. Any process, not only our children: a pidfd becomes readable at its exit."""
    deadline = time.monotonic() + max(timeout, 0.0)
    waiting: list[int] = []
    try:
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):  # gone already
                waiting.append(os.pidfd_open(pid))
        while waiting:
            ready, _, _ = select.select(waiting, [], [], max(deadline - time.monotonic(), 0.0))
            if not ready:
                return False
            for fd in ready:
                waiting.remove(fd)
                os.close(fd)
        return True
    finally:
        for fd in waiting:
            os.close(fd)


def stop_process(
    process: subprocess.Popen[bytes],
    grace_period: float,
    *,
    signum: int = signal.SIGTERM,
    hurry: Hurry | None = None,
    what: str = "the process",
) -> int:
    """`signum` to `process` (leader of its own group), then wait until it exits, `grace_period` seconds pass or
    `hurry` is set, then `kill_tree`. Returns the Popen returncode."""
    if process.poll() is None:
        log.info("stopping %s (%s, SIGKILL in %.0f s)", what, signal_name(signum), grace_period)
        process.send_signal(signum)
        if not wait_for_exit(process, grace_period, hurry):
            log.warning("%s did not stop in time; sending SIGKILL to its processes", what)
            kill_tree(process.pid)
    return process.wait()
