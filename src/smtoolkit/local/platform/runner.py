"""Run every host of a local job as a process, relay their output line by line with a host prefix, and stop
them the way the platform stops a job.

Each host process starts in its own session, so a Ctrl-C at the terminal reaches only this runner, which then
does what the platform does: the stop signal (SIGTERM for training, SIGINT for processing) to every host's main
process (the container's PID 1 there), and after `grace_period` seconds SIGKILL to every process the hosts
started (the container's whole cgroup there). A second SIGINT/SIGTERM skips the rest of the grace period. When a
host fails the others are stopped the same way; when `max_runtime` passes, all are.
"""

from __future__ import annotations

import logging
import signal
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from smtoolkit.proc.signals import STOPPING, SignalTrap, signal_name
from smtoolkit.proc.spawn import LineSink, exit_code_of, start_relayed
from smtoolkit.proc.stop import GraceClock, kill_tree

log = logging.getLogger(__name__)

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


class _Job:
    def __init__(self, stop_signal: int, grace_period: float, max_runtime: float | None) -> None:
        self.stop_signal = stop_signal
        self.deadline = None if max_runtime is None else time.monotonic() + max_runtime
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.stop_argvs: dict[str, tuple[str, ...]] = {}
        self.stoppers: list[subprocess.Popen[bytes]] = []
        self.exits: list[HostExit] = []
        self.stop_reason: StopReason | None = None
        self.received: int | None = None
        self.grace = GraceClock(grace_period)

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
        if not self.grace.start():
            return
        for host, process in self.running().items():
            log.info(
                "sending %s to host %s (SIGKILL in %.0f s)", signal_name(self.stop_signal), host, self.grace.seconds
            )
            stopper = _start_stopper(self.stop_argvs[host]) if self.stop_argvs.get(host) else None
            if stopper is None:
                process.send_signal(self.stop_signal)
            else:
                self.stoppers.append(stopper)

    def kill_all(self) -> None:
        self.grace.escalate()
        for host, process in self.running().items():
            log.warning("host %s did not stop within the grace period; sending SIGKILL to its processes", host)
            kill_tree(process.pid)

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
        if self.grace.due():
            self.kill_all()
        wakes = [_POLL_INTERVAL]
        wakes += [left for left in (self.grace.seconds_left(),) if left is not None]
        if self.deadline is not None and self.deadline > now:
            wakes.append(self.deadline - now)
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
    return RunOutcome(tuple(job.exits), job.stop_reason, job.received, job.grace.escalated)


def _start(job: _Job, launch: HostLaunch, on_line: LineSink) -> threading.Thread:
    process, relay = start_relayed(
        launch.host, launch.argv, launch.env, launch.cwd, on_line, what=f"host {launch.host}"
    )
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
