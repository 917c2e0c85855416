"""Small child programs for the supervisor's tests: `python child.py MODE ARGS...`."""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType

HERE = str(Path(__file__).resolve())


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def touch(path: str, text: str = "") -> None:
    Path(path + ".tmp").write_text(text)
    os.replace(path + ".tmp", path)  # readers never see a half-written file


def wait_for(path: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not os.path.exists(path):
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {path}")
        time.sleep(0.01)


def selfkill(name: str) -> None:
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # no core file from SIGSEGV
    os.kill(os.getpid(), signal.Signals[name])
    time.sleep(10)


def trap(ready: str, checkpoint: str, *grandchild: str) -> None:
    """Write `checkpoint` (the signal's name) on SIGTERM/SIGINT/SIGUSR1 and exit; optionally with a
    grandchild in the same group that does the same with its own files."""
    helper: subprocess.Popen[bytes] | None = None

    def on_signal(signum: int, frame: FrameType | None) -> None:
        if helper is not None:
            helper.wait(timeout=10)
        touch(checkpoint, signal.Signals(signum).name)
        sys.exit(0 if signum != signal.SIGUSR1 else 5)

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGUSR1):
        signal.signal(signum, on_signal)
    if grandchild:
        grandchild_ready, grandchild_checkpoint = grandchild
        helper = subprocess.Popen([sys.executable, HERE, "trap", grandchild_ready, grandchild_checkpoint])
        wait_for(grandchild_ready)
    touch(ready)
    time.sleep(30)
    raise SystemExit("no signal came")


def ignore(ready: str) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    touch(ready)
    time.sleep(30)


def emit(stdout_file: str, stderr_file: str) -> None:
    """Write the files' bytes to fd 1 and fd 2, one line at a time, unchanged."""
    for fd, path in ((1, stdout_file), (2, stderr_file)):
        for line in Path(path).read_bytes().splitlines(keepends=True):
            write_all(fd, line)


def announce() -> None:
    """Say on stderr when we said it, then keep running."""
    write_all(2, f"{time.time()!r}\n".encode())
    time.sleep(10)


def holder(pid_file: str, escape: str) -> None:
    """Leave a grandchild holding our stderr and exit at once; "setsid" takes it out of our group."""
    argv = [sys.executable, HERE, "sleep", "5"]
    helper = subprocess.Popen(argv, start_new_session=escape == "setsid")
    touch(pid_file, str(helper.pid))
    helper.returncode = 0  # it is meant to outlive us; keeps Popen from warning


def zombies(parent: int) -> list[int]:
    """Pids of the zombie children of `parent`, from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        state, ppid = stat.rsplit(")", 1)[1].split()[:2]
        if state == "Z" and int(ppid) == parent:
            found.append(int(entry.name))
    return found


def orphans(count: str, report: str) -> None:
    """Double-fork `count` orphans that leave our group and exit while we run; report the zombies that
    PID 1 has left unreaped a moment later; exit 7."""
    for _ in range(int(count)):
        middle = os.fork()
        if middle == 0:
            if os.fork() == 0:
                os.setsid()
                time.sleep(0.1)
                os._exit(0)
            os._exit(0)
        os.waitpid(middle, 0)
    time.sleep(0.6)
    touch(report, json.dumps(zombies(1)))
    sys.exit(7)


def hog(megabytes: str) -> None:
    """Touch `megabytes` MiB, one at a time (an OOM kill is expected before the end)."""
    held = [b"x" * (1 << 20) for _ in range(int(megabytes))]
    sys.exit(len(held) and 0)


MODES: dict[str, Callable[..., object]] = {
    "exit": lambda code: sys.exit(int(code)),
    "selfkill": selfkill,
    "trap": trap,
    "ignore": ignore,
    "emit": emit,
    "announce": announce,
    "holder": holder,
    "orphans": orphans,
    "hog": hog,
    "sleep": lambda seconds: time.sleep(float(seconds)),
}

if __name__ == "__main__":
    MODES[sys.argv[1]](*sys.argv[2:])
