"""Helpers for the supervisor's integration tests: the driver process, child argv, a memory cgroup."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import psutil
import pytest

from smtoolkit.proc.cgroup import own_cgroups

ROOT = Path(__file__).resolve().parents[3]
CHILD = str(Path(__file__).resolve().parent / "child.py")
DRIVER = "tests.integration.scripts.supervise_driver"


def child(*args: str) -> tuple[str, ...]:
    return (sys.executable, CHILD, *args)


def wait_until(condition: Callable[[], bool], timeout: float = 10.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out after {timeout}s waiting for {what}"
        time.sleep(0.01)


@dataclass
class Driver:
    """supervise_driver.py running as a separate process, so that signals can be sent to the launcher."""

    proc: subprocess.Popen[bytes]
    outcome_file: Path
    log_file: Path

    def result(self, timeout: float = 10.0) -> dict[str, Any]:
        assert self.proc.wait(timeout) == 0, self.log_file.read_text()
        report: dict[str, Any] = json.loads(self.outcome_file.read_text())
        return report

    def log(self) -> str:
        return self.log_file.read_text()

    def stop(self) -> None:
        """Kill it if it still runs, reap it, close its pipes."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for pipe in (self.proc.stdout, self.proc.stderr):
            if pipe is not None:
                pipe.close()


def start_driver(
    tmp_path: Path,
    *args: str,
    grace: float = 1.0,
    tail: int = 64 * 1024,
    prefix: tuple[str, ...] = (),
    stdout: IO[bytes] | int | None = None,
    stderr: IO[bytes] | int | None = None,
) -> Driver:
    """The driver supervising `child.py ARGS`, with `prefix` (e.g. unshare) in front of it."""
    outcome, log = tmp_path / "outcome.json", tmp_path / "driver.log"
    argv = [*prefix, sys.executable, "-m", DRIVER, str(outcome), str(log), str(grace), str(tail), "--"]
    proc = subprocess.Popen([*argv, *child(*args)], cwd=ROOT, stdout=stdout, stderr=stderr)
    return Driver(proc, outcome, log)


def pid_namespace_prefix() -> tuple[str, ...]:
    """argv prefix that runs a command as PID 1 of a new PID namespace; fails the test, saying why, if it
    cannot (needs util-linux unshare and root or user namespaces)."""
    unshare = shutil.which("unshare")
    if unshare is None:
        pytest.fail("cannot run the launcher as PID 1: no `unshare` (util-linux) on PATH")
    prefix = (unshare, "--pid", "--fork", "--mount-proc")
    probe = subprocess.run([*prefix, "true"], capture_output=True)
    if probe.returncode != 0:
        why = probe.stderr.decode(errors="replace").strip()
        pytest.fail(f"cannot run the launcher as PID 1 in a new PID namespace (needs root or user ns): {why}")
    return prefix


def grandchild_from(pid_file: Path) -> psutil.Process:
    return psutil.Process(int(pid_file.read_text()))


def is_gone(process: psutil.Process) -> bool:
    try:
        return process.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def make_memory_cgroup(name: str, limit: int) -> Path:
    """A child of our memory cgroup with a memory limit and no swap (v1 or v2); skips, saying why, where
    this machine does not allow it."""
    v2_path, v1_path = own_cgroups(Path("/proc/self/cgroup").read_text())
    root = Path("/sys/fs/cgroup")
    if v1_path is not None and (root / "memory").is_dir():
        parent = root / "memory" / v1_path.lstrip("/")
        limits = ("memory.limit_in_bytes", "memory.memsw.limit_in_bytes")
    else:
        parent = root / (v2_path or "/").lstrip("/")
        limits = ("memory.max", "memory.swap.max")
    cgroup = parent / f"smtoolkit-test-{os.getpid()}-{name}"  # unique across test sessions
    try:
        cgroup.mkdir()
        (cgroup / limits[0]).write_text(str(limit))
        if (cgroup / limits[1]).exists():
            (cgroup / limits[1]).write_text(str(limit) if limits[1].startswith("memory.memsw") else "0")
    except OSError as exc:
        if cgroup.is_dir():
            cgroup.rmdir()
        pytest.skip(f"cannot create a memory-limited cgroup under {parent} here: {exc}")
    return cgroup


def remove_cgroup(cgroup: Path) -> bool:
    try:
        cgroup.rmdir()
    except OSError:
        return False
    return True
