"""The one way a child is stopped: stop signal, grace period (cut short by Hurry), SIGKILL to its whole tree."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil

from smtoolkit.proc.spawn import start_in_session
from smtoolkit.proc.stop import GraceClock, Hurry, stop_process, wait_for_pids

# Ignores SIGTERM, starts a grandchild that does too, says so on stdout, then waits to be killed.
STUBBORN = """
import signal, subprocess, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
ignore = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)"
child = subprocess.Popen([sys.executable, "-c", ignore])
print(child.pid, flush=True)
time.sleep(60)
"""


def _stubborn(tmp_path: Path) -> tuple[subprocess.Popen[bytes], int]:
    process = start_in_session(
        [sys.executable, "-c", STUBBORN], dict(os.environ), tmp_path, what="stubborn", stdout=subprocess.PIPE
    )
    assert process.stdout is not None
    with process.stdout:
        return process, int(process.stdout.readline())


def test_a_child_that_ignores_sigterm_is_killed_with_its_tree_after_the_grace_period(tmp_path: Path) -> None:
    process, grandchild_pid = _stubborn(tmp_path)
    grandchild = psutil.Process(grandchild_pid)
    started = time.monotonic()
    assert stop_process(process, 0.5) == -signal.SIGKILL
    assert 0.4 < time.monotonic() - started < 5
    _, alive = psutil.wait_procs([grandchild], timeout=5)  # SIGKILL was sent; its delivery takes a moment
    assert not alive


def test_hurry_cuts_the_grace_period_short(tmp_path: Path) -> None:
    process, _ = _stubborn(tmp_path)
    hurry = Hurry()
    try:
        hurry.set()  # as a second Ctrl-C's handler would
        started = time.monotonic()
        assert stop_process(process, 60, hurry=hurry) == -signal.SIGKILL
        assert time.monotonic() - started < 5
    finally:
        hurry.close()


def test_a_child_that_stops_on_sigterm_is_waited_for_not_killed(tmp_path: Path) -> None:
    process = start_in_session([sys.executable, "-c", "import time; time.sleep(60)"], {}, tmp_path, what="sleeper")
    assert stop_process(process, 30) == -signal.SIGTERM


def test_grace_clock_of_zero_is_due_at_once_and_starts_only_once() -> None:
    clock = GraceClock(0)
    assert not clock.due() and clock.seconds_left() is None
    assert clock.start() and not clock.start()
    assert clock.due() and clock.seconds_left() == 0.0
    clock.escalate()
    assert not clock.due() and clock.seconds_left() is None


def test_wait_for_pids_waits_for_processes_that_are_not_our_children(tmp_path: Path) -> None:
    # A grandchild: not our child, so only a pidfd (not waitpid) can tell when it exits.
    process, grandchild = _stubborn(tmp_path)
    assert not wait_for_pids([grandchild], 0.2)
    os.kill(grandchild, signal.SIGKILL)
    assert wait_for_pids([grandchild], 10)
    assert wait_for_pids([], 0)
    stop_process(process, 0)
