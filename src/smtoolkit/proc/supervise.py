"""Run the user's process in its own group and supervise it until it ends.

stdout is inherited (no relay at all); stderr is relayed byte for byte and its tail kept for the failure
report. Stop signals go to the whole group, then SIGKILL after a grace period. Whatever the child leaves
behind in its group is killed when it exits, and as PID 1 the launcher also reaps orphans.

A signal that reaches the launcher after `run_supervised` has been entered but before the child exists is
not lost: the child is still started, and the signal is forwarded to it the moment it exists (so a stop
request in that window usually ends the child before it has installed its own handlers).
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from smtoolkit.errors import LaunchError
from smtoolkit.proc.cgroup import oom_kill_count
from smtoolkit.proc.groups import group_exists, has_exited, reap_exited, signal_group
from smtoolkit.proc.signals import STOPPING, SignalTrap, signal_name
from smtoolkit.proc.spawn import exit_code_of, start_in_session
from smtoolkit.proc.stop import GraceClock
from smtoolkit.proc.streams import StreamRelay

log = logging.getLogger(__name__)

# How long stderr may stay open after the child's group is gone (a process that left the group holds it).
DRAIN_TIMEOUT = 1.0
# A wake-up even without a signal, in case SIGCHLD was blocked or lost.
_POLL_INTERVAL = 1.0
_LEFTOVER_REAP_TIMEOUT = 1.0


@dataclass(frozen=True)
class ProcessSpec:
    """What to run: an argv (never a shell), the child's complete environment, its working directory."""

    argv: tuple[str, ...]
    env: Mapping[str, str]
    cwd: Path

    def __post_init__(self) -> None:
        if not self.argv:
            raise LaunchError("cannot start a process from an empty command")


@dataclass(frozen=True)
class Outcome:
    """How the supervised process ended."""

    exit_code: int  # the child's own code; 128+N when killed by signal N
    signal: int | None  # the signal that killed it
    stderr_tail: bytes  # the last bytes it wrote to stderr
    oom_killed: bool  # SIGKILL that the launcher did not send, while the cgroup's OOM-kill count went up
    stopped_by: int | None  # the first SIGTERM/SIGINT the launcher received while supervising
    escalated: bool  # the grace period ran out and the group got SIGKILL


def run_supervised(spec: ProcessSpec, *, grace_period: float = 110.0, stderr_tail_bytes: int = 64 * 1024) -> Outcome:
    """Start `spec` in a new session (its own process group) and supervise it until it exits.

    Main thread only (LaunchError otherwise); LaunchError too when the process cannot be started. Signal
    handlers are installed for the duration of the call and the previous ones restored after.
    """
    with SignalTrap() as trap:
        oom_before = oom_kill_count()
        child, relay = _spawn(spec, stderr_tail_bytes)
        supervisor = _Supervisor(child, trap, grace_period)
        try:
            supervisor.watch()
        finally:
            returncode = supervisor.finish()
            tail = relay.finish(DRAIN_TIMEOUT)
    killed_by = -returncode if returncode < 0 else None
    escalated = supervisor.grace.escalated
    oom_killed = killed_by == signal.SIGKILL and not escalated and _grew(oom_before)
    outcome = Outcome(
        exit_code=exit_code_of(returncode),
        signal=killed_by,
        stderr_tail=tail,
        oom_killed=oom_killed,
        stopped_by=supervisor.stopped_by,
        escalated=escalated,
    )
    _log_outcome(child.pid, outcome)
    return outcome


def _spawn(spec: ProcessSpec, tail_bytes: int) -> tuple[subprocess.Popen[bytes], StreamRelay]:
    read_fd, write_fd = os.pipe()
    try:
        child = start_in_session(spec.argv, spec.env, spec.cwd, what=f"{spec.argv[0]!r} in {spec.cwd}", stderr=write_fd)
    except LaunchError:
        os.close(read_fd)
        raise
    finally:
        os.close(write_fd)
    log.info("started process %d: %s", child.pid, spec.argv[0])
    relay = StreamRelay(read_fd, 2, tail_bytes=tail_bytes)
    relay.start()
    return child, relay


class _Supervisor:
    def __init__(self, child: subprocess.Popen[bytes], trap: SignalTrap, grace_period: float) -> None:
        self._child = child
        self._group = child.pid
        self._trap = trap
        self.grace = GraceClock(grace_period)
        self._is_init = os.getpid() == 1
        self.stopped_by: int | None = None

    def watch(self) -> None:
        """Until the child exits: forward signals, enforce the grace period, reap orphans as PID 1."""
        while True:
            for signum in self._trap.take():
                self._forward(signum)
            if self._is_init:
                reap_exited(keep=self._child.pid)
            if has_exited(self._child.pid):
                return
            self._enforce_grace()
            self._trap.wait(self._next_wake())

    def finish(self) -> int:
        """Kill what is left in the group while the dead child's zombie still holds its id, then reap."""
        signal_group(self._group, signal.SIGKILL)
        returncode = self._child.wait()
        if self._is_init:
            self._reap_leftovers()
        for signum in self._trap.take():
            self._note_stop(signum)
        return returncode

    def _forward(self, signum: int) -> None:
        log.info("received %s; forwarding it to process group %d", signal_name(signum), self._group)
        signal_group(self._group, signum)
        self._note_stop(signum)
        if signum in STOPPING and self.grace.start():
            log.info("process group %d has %.1fs to exit before SIGKILL", self._group, self.grace.seconds)

    def _note_stop(self, signum: int) -> None:
        if signum in STOPPING and self.stopped_by is None:
            self.stopped_by = int(signum)

    def _enforce_grace(self) -> None:
        if not self.grace.due():
            return
        log.warning(
            "grace period of %.1fs ran out; sending SIGKILL to process group %d", self.grace.seconds, self._group
        )
        signal_group(self._group, signal.SIGKILL)
        self.grace.escalate()

    def _next_wake(self) -> float:
        left = self.grace.seconds_left()
        return _POLL_INTERVAL if left is None else min(_POLL_INTERVAL, left)

    def _reap_leftovers(self) -> None:
        # The killed members are re-parented to us (PID 1): reap them until the group is gone.
        deadline = time.monotonic() + _LEFTOVER_REAP_TIMEOUT
        while True:
            reap_exited(keep=None)
            if not group_exists(self._group) or time.monotonic() >= deadline:
                return
            self._trap.wait(0.05)


def _grew(oom_before: int | None) -> bool:
    oom_after = oom_kill_count()
    return oom_before is not None and oom_after is not None and oom_after > oom_before


def _log_outcome(pid: int, outcome: Outcome) -> None:
    if outcome.signal is None:
        log.info("process %d exited with code %d", pid, outcome.exit_code)
    elif outcome.oom_killed:
        log.error("process %d was killed by the kernel's OOM killer (out of memory)", pid)
    else:
        log.info("process %d was killed by %s (exit code %d)", pid, signal_name(outcome.signal), outcome.exit_code)
