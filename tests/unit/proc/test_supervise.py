"""The supervisor's parts on their own: cgroup counters, the stderr relay, the signal trap, the spec."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from smtoolkit.errors import LaunchError
from smtoolkit.proc.cgroup import counter_files, oom_kill_count, own_cgroups, read_counter
from smtoolkit.proc.signals import SignalTrap
from smtoolkit.proc.streams import StreamRelay
from smtoolkit.proc.supervise import ProcessSpec

V1 = "12:memory:/docker/abc\n11:cpu,cpuacct:/docker/abc\n0::/\n"
V2 = "0::/system.slice/job.scope\n"
EVENTS = "low 0\nhigh 0\nmax 4\noom 2\noom_kill {}\noom_group_kill 0\n"


def test_own_cgroups_reads_v1_and_v2_lines() -> None:
    assert own_cgroups(V1) == ("/", "/docker/abc")
    assert own_cgroups(V2) == ("/system.slice/job.scope", None)
    assert own_cgroups("garbage\n") == (None, None)


def test_oom_count_from_own_v2_cgroup_then_root_then_v1(tmp_path: Path) -> None:
    proc = tmp_path / "cgroup"
    proc.write_text(V2)
    root = tmp_path / "sys"
    own = root / "system.slice" / "job.scope"
    own.mkdir(parents=True)
    (root / "memory.events").write_text(EVENTS.format(1))
    assert oom_kill_count(proc, root) == 1
    (own / "memory.events").write_text(EVENTS.format(3))
    assert oom_kill_count(proc, root) == 3


def test_oom_count_from_v1_oom_control(tmp_path: Path) -> None:
    proc = tmp_path / "cgroup"
    proc.write_text(V1)
    memcg = tmp_path / "sys" / "memory" / "docker" / "abc"
    memcg.mkdir(parents=True)
    (memcg / "memory.oom_control").write_text("oom_kill_disable 0\nunder_oom 0\noom_kill 7\n")
    assert oom_kill_count(proc, tmp_path / "sys") == 7
    assert counter_files(proc, tmp_path / "sys")[-2] == memcg / "memory.oom_control"


def test_oom_count_is_none_without_cgroup_files(tmp_path: Path) -> None:
    assert oom_kill_count(tmp_path / "missing", tmp_path / "sys") is None
    (tmp_path / "bad").write_text("oom_kill many\n")
    assert read_counter(tmp_path / "bad", "oom_kill") is None


def test_oom_count_reads_this_machines_counter_when_there_is_one() -> None:
    counts = [count for path in counter_files() if (count := read_counter(path, "oom_kill")) is not None]
    if not counts:
        pytest.skip("no memory cgroup counter readable here")
    assert oom_kill_count() == counts[0] >= 0


class Pipes:
    """A child's stderr pipe (source) and our stderr stand-in (sink); closes what the test left open."""

    def __init__(self) -> None:
        self.source_r, self.source_w = os.pipe()
        self.sink_r, self.sink_w = os.pipe()
        self._open = {self.source_w, self.sink_r, self.sink_w}  # source_r belongs to the relay

    def close(self, fd: int) -> None:
        self._open.remove(fd)
        os.close(fd)

    def close_all(self) -> None:
        for fd in list(self._open):
            self.close(fd)


@pytest.fixture
def pipes() -> Iterator[Pipes]:
    made = Pipes()
    yield made
    made.close_all()


def read_exactly(fd: int, size: int, timeout: float = 5.0) -> bytes:
    got = b""
    deadline = time.monotonic() + timeout
    while len(got) < size:
        assert time.monotonic() < deadline, f"got {len(got)} of {size} bytes"
        got += os.read(fd, size - len(got))
    return got


def test_relay_copies_bytes_unchanged_as_they_arrive(pipes: Pipes) -> None:
    relay = StreamRelay(pipes.source_r, pipes.sink_w, tail_bytes=64)
    relay.start()
    for chunk in (b"  lead", b"ing\n\xff\xfe", "✓\r\n".encode(), b"no newline"):
        os.write(pipes.source_w, chunk)
        assert read_exactly(pipes.sink_r, len(chunk)) == chunk  # before anything else is written
    pipes.close(pipes.source_w)
    assert relay.finish(timeout=5.0) == b"  leading\n\xff\xfe" + "✓\r\n".encode() + b"no newline"


def test_relay_keeps_only_the_last_bytes(pipes: Pipes) -> None:
    data = bytes(range(256)) * 1024
    relay = StreamRelay(pipes.source_r, pipes.sink_w, tail_bytes=1000)
    relay.start()
    reader = threading.Thread(target=lambda: read_exactly(pipes.sink_r, len(data)))
    reader.start()
    os.write(pipes.source_w, data)
    pipes.close(pipes.source_w)
    reader.join()
    assert relay.finish(timeout=5.0) == data[-1000:]


def test_relay_stops_when_a_writer_keeps_the_pipe_open(pipes: Pipes) -> None:
    relay = StreamRelay(pipes.source_r, pipes.sink_w)
    relay.start()
    os.write(pipes.source_w, b"last words\n")
    started = time.monotonic()
    assert relay.finish(timeout=0.2) == b"last words\n"
    assert time.monotonic() - started < 2.0


def test_relay_keeps_reading_when_the_sink_breaks(pipes: Pipes) -> None:
    pipes.close(pipes.sink_r)  # writes to the sink now fail with EPIPE
    relay = StreamRelay(pipes.source_r, pipes.sink_w, tail_bytes=10)
    relay.start()
    for _ in range(3):
        os.write(pipes.source_w, b"0123456789" * 10_000)
    pipes.close(pipes.source_w)
    assert relay.finish(timeout=5.0) == b"0123456789"


def test_trap_queues_signals_and_restores_handlers() -> None:
    before = signal.getsignal(signal.SIGUSR2)
    with SignalTrap() as trap:
        os.kill(os.getpid(), signal.SIGUSR2)
        os.kill(os.getpid(), signal.SIGHUP)
        trap.wait(5.0)
        assert trap.take() == [signal.SIGUSR2, signal.SIGHUP]
        assert trap.take() == []
        started = time.monotonic()
        trap.wait(0.05)
        assert 0.04 < time.monotonic() - started < 1.0
    assert signal.getsignal(signal.SIGUSR2) == before


def test_trap_refuses_other_threads() -> None:
    errors: list[BaseException] = []

    def enter() -> None:
        try:
            with SignalTrap():
                pass
        except LaunchError as exc:
            errors.append(exc)

    thread = threading.Thread(target=enter)
    thread.start()
    thread.join()
    assert len(errors) == 1
    assert "main thread" in str(errors[0])


def test_spec_needs_a_command() -> None:
    with pytest.raises(LaunchError, match="empty command"):
        ProcessSpec(argv=(), env={}, cwd=Path("/"))
