"""Starting a child in its own session (its own process group), its output piped to a relay.

A new session rather than only a new group: a background group of our session would be stopped (SIGTTIN) on
reading a terminal, e.g. a breakpoint() in a local run. And a Ctrl-C at the terminal then reaches only us,
which stops the child the way the platform stops a container (smtoolkit.proc.stop).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from smtoolkit.errors import LaunchError

LineSink = Callable[[str, bytes], None]


def exit_code_of(returncode: int) -> int:
    """A process's exit code as a container reports it: 128+N when killed by signal N."""
    return 128 - returncode if returncode < 0 else returncode


def start_in_session(
    argv: Sequence[str],
    env: Mapping[str, str],
    cwd: Path,
    *,
    what: str,
    stdout: int | None = None,
    stderr: int | None = None,
    stdin: int | None = None,
) -> subprocess.Popen[bytes]:
    """Popen `argv` (never a shell) in a new session; LaunchError naming `what` when it cannot start (`what`
    names the program too, e.g. `host algo-1 ('python')`)."""
    _flush_std_streams()
    try:
        return subprocess.Popen(
            list(argv), env=dict(env), cwd=cwd, stdin=stdin, stdout=stdout, stderr=stderr, start_new_session=True
        )
    except (OSError, ValueError) as exc:
        raise LaunchError(f"cannot start {what}: {exc}") from exc


def start_relayed(
    name: str, argv: Sequence[str], env: Mapping[str, str], cwd: Path, on_line: LineSink, *, what: str
) -> tuple[subprocess.Popen[bytes], threading.Thread]:
    """Start `argv` in its own session, its stdout and stderr handed line by line to `on_line(name, line)` by a
    daemon thread (started; join it once the process has exited). `what` names it in a LaunchError."""
    read_fd, write_fd = os.pipe()
    try:
        process = start_in_session(
            argv, env, cwd, what=f"{what} ({argv[0]!r})", stdin=subprocess.DEVNULL, stdout=write_fd, stderr=write_fd
        )
    except LaunchError:
        os.close(read_fd)
        raise
    finally:
        os.close(write_fd)
    relay = threading.Thread(target=relay_lines, args=(name, read_fd, on_line), name=f"relay-{name}", daemon=True)
    relay.start()
    return process, relay


def relay_lines(name: str, source: int, sink: LineSink) -> None:
    """Read `source` (a pipe's read end, closed at the end) and hand `sink` each line, `\\n` included."""
    pending = b""
    with os.fdopen(source, "rb", buffering=0) as stream:
        while chunk := stream.read(64 * 1024):
            *lines, pending = (pending + chunk).split(b"\n")
            for line in lines:
                sink(name, line + b"\n")
    if pending:
        sink(name, pending + b"\n")


def _flush_std_streams() -> None:
    # Our buffered output must reach the shared fds before the child's does.
    for stream in (sys.stdout, sys.stderr):
        if stream is not None:
            with contextlib.suppress(OSError, ValueError):
                stream.flush()
