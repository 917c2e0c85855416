"""run_supervised with real child processes, real signals and real pipes (no mocks)."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from smtoolkit.errors import LaunchError
from smtoolkit.proc.supervise import DRAIN_TIMEOUT, Outcome, ProcessSpec, run_supervised
from tests.integration.scripts.harness import (
    ROOT,
    Driver,
    child,
    grandchild_from,
    is_gone,
    make_memory_cgroup,
    pid_namespace_prefix,
    remove_cgroup,
    start_driver,
    wait_until,
)

pytestmark = pytest.mark.integration


def supervise(*args: str, env: Mapping[str, str] | None = None, tail: int = 64 * 1024) -> Outcome:
    spec = ProcessSpec(argv=child(*args), env=dict(os.environ) if env is None else env, cwd=ROOT)
    return run_supervised(spec, grace_period=1.0, stderr_tail_bytes=tail)


@pytest.fixture
def driver(tmp_path: Path) -> Iterator[Callable[..., Driver]]:
    """Starts supervise_driver.py as a separate process, so that the tests can signal the launcher."""
    started: list[Driver] = []

    def start(*args: str, **options: Any) -> Driver:
        started.append(start_driver(tmp_path, *args, **options))
        return started[-1]

    yield start
    for run in started:
        run.stop()


@pytest.mark.parametrize(
    ("args", "exit_code", "killed_by"),
    [
        (("exit", "0"), 0, None),
        (("exit", "3"), 3, None),
        (("selfkill", "SIGKILL"), 137, signal.SIGKILL),
        (("selfkill", "SIGSEGV"), 139, signal.SIGSEGV),
    ],
)
def test_exit_code_is_the_childs_and_128_plus_n_for_signals(
    args: tuple[str, ...], exit_code: int, killed_by: int | None
) -> None:
    outcome = supervise(*args)
    assert (outcome.exit_code, outcome.signal) == (exit_code, killed_by)
    assert not (outcome.oom_killed or outcome.escalated or outcome.stopped_by)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_stop_signal_reaches_child_and_grandchild(
    driver: Callable[..., Driver], tmp_path: Path, signum: signal.Signals
) -> None:
    ready, checkpoint = tmp_path / "ready", tmp_path / "checkpoint"
    gc_ready, gc_checkpoint = tmp_path / "gc-ready", tmp_path / "gc-checkpoint"
    run = driver("trap", str(ready), str(checkpoint), str(gc_ready), str(gc_checkpoint), grace=5.0)
    wait_until(ready.exists, what="the child to install its handlers")
    run.proc.send_signal(signum)
    report = run.result()
    assert checkpoint.read_text() == gc_checkpoint.read_text() == signum.name
    assert (report["exit_code"], report["signal"]) == (0, None)
    assert (report["stopped_by"], report["escalated"]) == (signum, False)
    assert f"received {signum.name}; forwarding it to process group" in run.log()


def test_child_ignoring_sigterm_gets_sigkill_after_the_grace_period(
    driver: Callable[..., Driver], tmp_path: Path
) -> None:
    ready = tmp_path / "ready"
    run = driver("ignore", str(ready), grace=1.0)
    wait_until(ready.exists, what="the child to ignore SIGTERM")
    sent = time.monotonic()
    run.proc.send_signal(signal.SIGTERM)
    report = run.result()
    assert 1.0 <= time.monotonic() - sent < 5.0
    assert (report["exit_code"], report["signal"], report["escalated"]) == (137, signal.SIGKILL, True)
    assert (report["stopped_by"], report["oom_killed"]) == (signal.SIGTERM, False)
    assert "grace period of 1.0s ran out; sending SIGKILL" in run.log()


def test_other_signals_are_forwarded_without_a_grace_period(driver: Callable[..., Driver], tmp_path: Path) -> None:
    ready, checkpoint = tmp_path / "ready", tmp_path / "checkpoint"
    run = driver("trap", str(ready), str(checkpoint))
    wait_until(ready.exists, what="the child to install its handlers")
    run.proc.send_signal(signal.SIGUSR1)
    report = run.result()
    assert checkpoint.read_text() == "SIGUSR1"
    assert (report["exit_code"], report["stopped_by"], report["escalated"]) == (5, None, False)


def test_signal_before_the_child_exists_is_forwarded_once_it_does() -> None:
    class SignalsWhileCopied(Mapping[str, str]):
        """An environment whose copying (in run_supervised, just before the spawn) sends us SIGTERM."""

        def __getitem__(self, key: str) -> str:
            return os.environ[key]

        def __iter__(self) -> Iterator[str]:
            os.kill(os.getpid(), signal.SIGTERM)
            return iter(os.environ)

        def __len__(self) -> int:
            return len(os.environ)

    started = time.monotonic()
    outcome = supervise("sleep", "10", env=SignalsWhileCopied())
    assert time.monotonic() - started < 5.0
    assert (outcome.exit_code, outcome.signal, outcome.stopped_by) == (143, signal.SIGTERM, signal.SIGTERM)


def test_output_passes_through_byte_for_byte(driver: Callable[..., Driver], tmp_path: Path) -> None:
    long_line = b"x" * (100 * 1024) + b"\n"
    out = long_line + b"    indented stdout\n" + b"\xff\xfe not utf-8\n" + "ünïcødé ✓ 日本\n".encode()
    err = b"\tindented stderr\n" + long_line + b"\xff\xfe\n" + "ünïcødé ✓\n".encode() + b"  no newline  "
    (tmp_path / "out.in").write_bytes(out)
    (tmp_path / "err.in").write_bytes(err)
    with open(tmp_path / "out.got", "wb") as got_out, open(tmp_path / "err.got", "wb") as got_err:
        run = driver(
            "emit",
            str(tmp_path / "out.in"),
            str(tmp_path / "err.in"),
            tail=1000,
            stdout=got_out,
            stderr=got_err,
        )
        report = run.result()
    assert (tmp_path / "out.got").read_bytes() == out
    assert (tmp_path / "err.got").read_bytes() == err
    assert report["stderr_tail"].encode("latin-1") == err[-1000:]


def test_stderr_arrives_while_the_child_still_runs(driver: Callable[..., Driver]) -> None:
    run = driver("announce", stderr=subprocess.PIPE)
    assert run.proc.stderr is not None
    line = run.proc.stderr.readline()
    assert time.time() - float(line) < 0.5
    assert run.proc.poll() is None
    run.proc.send_signal(signal.SIGTERM)
    report = run.result()
    assert (report["exit_code"], report["stopped_by"]) == (143, signal.SIGTERM)


def test_grandchild_left_in_the_group_is_killed(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    pid_file = tmp_path / "grandchild"
    with caplog.at_level(logging.WARNING):
        outcome = supervise("holder", str(pid_file), "group")
    assert outcome.exit_code == 0
    assert not caplog.records  # no wait for its stderr to close
    grandchild = grandchild_from(pid_file)
    wait_until(lambda: is_gone(grandchild), what="the grandchild to die")


def test_escaped_grandchild_holding_stderr_does_not_hang_the_launcher(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    pid_file = tmp_path / "grandchild"
    started = time.monotonic()
    try:
        with caplog.at_level(logging.WARNING):
            outcome = supervise("holder", str(pid_file), "setsid")
        assert time.monotonic() - started < DRAIN_TIMEOUT + 2.0
        assert outcome.exit_code == 0
        assert "stderr still open" in caplog.text
    finally:
        grandchild = grandchild_from(pid_file)
        grandchild.kill()
        wait_until(lambda: is_gone(grandchild), what="the grandchild to die")


def test_reaps_orphans_as_pid_1(driver: Callable[..., Driver], tmp_path: Path) -> None:
    prefix = pid_namespace_prefix()
    report_file = tmp_path / "zombies-seen-by-child.json"
    report = driver("orphans", "3", str(report_file), prefix=prefix).result()
    assert report["pid"] == 1
    assert report["exit_code"] == 7
    assert json.loads(report_file.read_text()) == []  # reaped while the child still ran
    assert report["zombies"] == []


def test_handlers_are_restored_after_success_and_after_a_failed_start() -> None:
    def mine(signum: int, frame: object) -> None:
        pass

    previous = signal.signal(signal.SIGUSR1, mine)
    try:
        before = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT, signal.SIGUSR1, signal.SIGCHLD)}
        assert supervise("exit", "0").exit_code == 0
        with pytest.raises(LaunchError, match="cannot start '/nonexistent/program'"):
            run_supervised(ProcessSpec(("/nonexistent/program",), env={}, cwd=ROOT))
        assert {s: signal.getsignal(s) for s in before} == before
        assert signal.set_wakeup_fd(-1) == -1
    finally:
        signal.signal(signal.SIGUSR1, previous)


def test_oom_kill_is_reported(driver: Callable[..., Driver], tmp_path: Path) -> None:
    cgroup = make_memory_cgroup(tmp_path.name, limit=96 * 1024 * 1024)
    try:
        join = ("sh", "-c", f'echo $$ > {cgroup / "cgroup.procs"} && exec "$@"', "sh")
        report = driver("hog", "512", prefix=join).result(timeout=30)
        assert (report["exit_code"], report["signal"], report["oom_killed"]) == (137, signal.SIGKILL, True)
    finally:
        wait_until(lambda: remove_cgroup(cgroup), what=f"{cgroup} to empty")
