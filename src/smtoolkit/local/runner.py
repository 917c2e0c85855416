"""Run every host of a local job as a process, relay their output line by line with a host prefix, and stop
them the way the platform stops a job.

Each host process starts in its own session, so a Ctrl-C at the terminal reaches only this runner, which then
does what the platform does: the stop signal (SIGTERM for training, SIGINT for processing) to every host's main
process (the container's PID 1 there), and after `grace_period` seconds SIGKILL to every process the hosts
started (the container's whole cgroup there). A second SIGINT/SIGTERM skips the rest of the grace period. When a
host fails the others are stopped the same way; when `max_runtime` passes, all are.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from smtoolkit.errors import LaunchError
from smtoolkit.launch.signals import STOPPING, SignalTrap, signal_name

log = logging.getLogger(__name__)

LineSink = Callable[[str, bytes], None]
StopReason = Literal["signal", "max_runtime", "host_failed"]
_POLL_INTERVAL = 0.5
_RELAY_JOIN_TIMEOUT = 2.0


@dataclass(frozen=True)
class HostLaunch:
    host: str
    argv: tuple[str, ...]
    env: Mapping[str, str]
    cwd: Path
    stop_argv: tuple[str, ...] = ()  # how to stop it instead of the stop signal (`docker stop NAME`)


@dataclass(frozen=True)
class HostExit:
    host: str
    exit_code: int  # 128+N when killed by signal N


@dataclass(frozen=True)
class RunOutcome:
    exits: tuple[HostExit, ...]  # in the order the hosts exited
    stop_reason: StopReason | None
    stop_signal: int | None  # the signal the runner received, for stop_reason "signal"
    escalated: bool  # the grace period ran out and SIGKILL was sent

    @property
    def first_failure(self) -> HostExit | None:
        return next((item for item in self.exits if item.exit_code != 0), None)


def relay_lines(host: str, source: int, sink: LineSink) -> None:
    """Read `source` (a pipe's read end, closed at the end) and hand `sink` each line, `\n` included."""
    pending = b""
    with os.fdopen(source, "rb", buffering=0) as stream:
        while chunk := stream.read(64 * 1024):
            *lines, pending = (pending + chunk).split(b"\n")
            for line in lines:
                sink(host, line + b"\n")
    if pending:
        sink(host, pending + b"\n")


def exit_code_of(returncode: int) -> int:
    """A process's exit code as a container reports it: 128+N when killed by signal N."""
    return 128 - returncode if returncode < 0 else returncode


def descendants(pid: int) -> list[int]:
    import psutil

    try:
        return [child.pid for child in psutil.Process(pid).children(recursive=True)]
    except psutil.Error:
        return []


def kill_all_of(pids: Sequence[int]) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)


class _Job:
    def __init__(self, stop_signal: int, grace_period: float, max_runtime: float | None) -> None:
        self.stop_signal = stop_signal
        self.grace_period = grace_period
        self.deadline = None if max_runtime is None else time.monotonic() + max_runtime
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.stop_argvs: dict[str, tuple[str, ...]] = {}
        self.stoppers: list[subprocess.Popen[bytes]] = []
        self.exits: list[HostExit] = []
        self.stop_reason: StopReason | None = None
        self.received: int | None = None
        self.kill_at: float | None = None
        self.escalated = False

    def running(self) -> dict[str, subprocess.Popen[bytes]]:
        return {host: process for host, process in self.processes.items() if process.returncode is None}

    def reap(self) -> None:
        for host, process in self.running().items():
            code = process.poll()
            if code is not None:
                self.exits.append(HostExit(host, exit_code_of(code)))
                log.info("host %s exited with code %d", host, self.exits[-1].exit_code)
                if self.exits[-1].exit_code != 0 and self.stop_reason is None:
                    self.stop("host_failed")

    def stop(self, reason: StopReason) -> None:
        self.stop_reason = self.stop_reason or reason
        if self.kill_at is not None:
            return
        self.kill_at = time.monotonic() + self.grace_period
        for host, process in self.running().items():
            log.info(
                "sending %s to host %s (SIGKILL in %.0f s)", signal_name(self.stop_signal), host, self.grace_period
            )
            stopper = _start_stopper(self.stop_argvs[host]) if self.stop_argvs.get(host) else None
            if stopper is None:
                process.send_signal(self.stop_signal)
            else:
                self.stoppers.append(stopper)

    def kill_all(self) -> None:
        self.escalated = True
        for host, process in self.running().items():
            log.warning("host %s did not stop within the grace period; sending SIGKILL to its processes", host)
            kill_all_of([*descendants(process.pid), process.pid])

    def on_signal(self, signum: int) -> None:
        if signum not in STOPPING:
            for process in self.running().values():
                process.send_signal(signum)
            return
        if self.received is not None:
            self.kill_all()
            return
        self.received = signum
        log.warning("received %s: stopping the job", signal_name(signum))
        self.stop("signal")

    def tick(self) -> float:
        """Enforce the deadlines; returns how long to sleep until the next check."""
        now = time.monotonic()
        if self.deadline is not None and now >= self.deadline and self.stop_reason is None:
            log.warning("MaxRuntimeInSeconds reached: stopping the job")
            self.stop("max_runtime")
        if self.kill_at is not None and not self.escalated and now >= self.kill_at:
            self.kill_all()
        wakes = [_POLL_INTERVAL]
        wakes += [moment - now for moment in (self.deadline, self.kill_at) if moment is not None and moment > now]
        return max(min(wakes), 0.01)


def run_hosts(
    launches: Sequence[HostLaunch],
    on_line: LineSink,
    *,
    stop_signal: int = signal.SIGTERM,
    grace_period: float = 120.0,
    max_runtime: float | None = None,
) -> RunOutcome:
    """Start every host, relay its output to `on_line`, supervise until all have exited. Main thread only."""
    job = _Job(stop_signal, grace_period, max_runtime)
    relays: list[threading.Thread] = []
    with SignalTrap() as trap:
        try:
            for launch in launches:
                relays.append(_start(job, launch, on_line))
            while job.running():
                for signum in trap.take():
                    job.on_signal(signum)
                job.reap()
                trap.wait(job.tick())
        finally:
            if job.running():  # an error of ours: leave nothing behind
                job.kill_all()
                for process in job.processes.values():
                    process.wait()
            for thread in relays:
                thread.join(_RELAY_JOIN_TIMEOUT)
            for stopper in job.stoppers:
                try:
                    stopper.wait(_RELAY_JOIN_TIMEOUT)
                except subprocess.TimeoutExpired:
                    stopper.kill()
                    stopper.wait()
    return RunOutcome(tuple(job.exits), job.stop_reason, job.received, job.escalated)


def _start(job: _Job, launch: HostLaunch, on_line: LineSink) -> threading.Thread:
    process, relay = start_relayed(launch, on_line, f"host {launch.host}")
    job.processes[launch.host] = process
    job.stop_argvs[launch.host] = launch.stop_argv
    log.info("host %s started (pid %d)", launch.host, process.pid)
    return relay


def _start_stopper(argv: tuple[str, ...]) -> subprocess.Popen[bytes] | None:
    """Start a host's stop command (its output discarded); None when it cannot start (then the stop signal)."""
    try:
        return subprocess.Popen(
            list(argv), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
    except OSError as exc:
        log.warning("cannot run %r (%s); sending the stop signal instead", argv[0], exc)
        return None


def start_relayed(launch: HostLaunch, on_line: LineSink, what: str) -> tuple[subprocess.Popen[bytes], threading.Thread]:
    """Start `launch` in its own session, its stdout and stderr relayed to `on_line` by a daemon thread (started).

    `what` names it in the LaunchError raised when it cannot start.
    """
    read_fd, write_fd = os.pipe()
    try:
        process = subprocess.Popen(
            list(launch.argv),
            env=dict(launch.env),
            cwd=launch.cwd,
            stdin=subprocess.DEVNULL,
            stdout=write_fd,
            stderr=write_fd,
            start_new_session=True,
        )
    except OSError as exc:
        os.close(read_fd)
        raise LaunchError(f"cannot start {what} ({launch.argv[0]!r}): {exc}") from exc
    finally:
        os.close(write_fd)
    relay = threading.Thread(
        target=relay_lines, args=(launch.host, read_fd, on_line), name=f"relay-{launch.host}", daemon=True
    )
    relay.start()
    return process, relay
