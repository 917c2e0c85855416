"""A private Docker engine for the container tests: dockerd started with the flags that work on these machines
(no bridge, no iptables), everything (data, exec state, socket, pid file, log) under one directory, stopped by
its PID and its leftover mounts unmounted afterwards.

The flags are those of ../shared/reference/environment.md; the machine's own Docker (if any) is never touched.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

logger = logging.getLogger(__name__)

START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 40.0


class EngineError(RuntimeError):
    """dockerd could not be started or a docker command failed; the message says which and why."""


def dockerd_argv(root: Path) -> list[str]:
    """dockerd with its state under `root`: no bridge and no iptables (neither works here), low ulimits."""
    return [
        "dockerd",
        "--bridge=none",
        "--iptables=false",
        "--ip6tables=false",
        "--ip-masq=false",
        f"--data-root={root / 'data'}",
        f"--exec-root={root / 'exec'}",
        f"-H=unix://{root / 'docker.sock'}",
        f"--pidfile={root / 'dockerd.pid'}",
        "--default-ulimit=nofile=1024:1024",
        "--default-ulimit=nproc=1024:1024",
    ]


@dataclass
class DockerEngine:
    """A running dockerd. `docker(...)` runs the docker CLI against it (classic builder, no BuildKit)."""

    root: Path
    pid: int
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def socket_path(self) -> Path:
        return self.root / "docker.sock"

    @property
    def environ(self) -> dict[str, str]:
        """The environment for docker CLI commands: this engine, the classic builder."""
        return {**os.environ, "DOCKER_HOST": f"unix://{self.socket_path}", "DOCKER_BUILDKIT": "0"}

    def docker(self, *args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run `docker ARGS` and return its output; a failure (when `check`) raises EngineError with stderr."""
        argv = [docker_cli(), *args]
        try:
            result = subprocess.run(argv, env=self.environ, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            raise EngineError(f"`docker {' '.join(args)}` did not finish within {timeout} s") from exc
        if check and result.returncode != 0:
            raise EngineError(
                f"`docker {' '.join(args)}` failed with exit code {result.returncode}:\n"
                f"{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
            )
        return result

    def log_tail(self, size: int = 3000) -> str:
        log = self.root / "dockerd.log"
        return log.read_text(errors="replace")[-size:] if log.exists() else ""

    def stop(self) -> None:
        """SIGTERM dockerd (it stops its containers and containerd), SIGKILL after STOP_TIMEOUT_S, then
        unmount whatever it left under its root."""
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGTERM)
        if not _wait_gone(self.pid, self.process, STOP_TIMEOUT_S):
            logger.warning("dockerd %d ignored SIGTERM for %.0f s; killing it", self.pid, STOP_TIMEOUT_S)
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)
            _wait_gone(self.pid, self.process, 10)
        unmount_below(self.root)


def docker_cli() -> str:
    found = shutil.which("docker")
    if not found:
        raise EngineError("no `docker` CLI on PATH (Debian package docker.io; ci/system-deps.sh installs it)")
    return found


def start_engine(root: Path, timeout: float = START_TIMEOUT_S) -> DockerEngine:
    """Start dockerd with its state under `root` and wait until it answers /_ping."""
    if shutil.which("dockerd") is None:
        raise EngineError("no `dockerd` on PATH (Debian package docker.io; ci/system-deps.sh installs it)")
    if os.geteuid() != 0:
        raise EngineError("dockerd needs root; run the container tests as root (CI does)")
    root.mkdir(parents=True, exist_ok=True)
    with open(root / "dockerd.log", "ab") as log:
        process = subprocess.Popen(
            dockerd_argv(root), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    engine = DockerEngine(root, process.pid, process)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            engine.stop()
            raise EngineError(f"dockerd exited with {process.returncode} at start:\n{engine.log_tail()}")
        if ping(engine.socket_path):
            logger.info("dockerd %d ready on %s", process.pid, engine.socket_path)
            return engine
        time.sleep(0.1)
    engine.stop()
    raise EngineError(f"dockerd did not answer on {engine.socket_path} within {timeout} s:\n{engine.log_tail()}")


def ping(socket_path: Path) -> bool:
    """True when the engine answers GET /_ping with 200 on its unix socket."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(2)
            sock.connect(str(socket_path))
            sock.sendall(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
            return sock.recv(64).startswith((b"HTTP/1.0 200", b"HTTP/1.1 200"))
    except OSError:
        return False


def _wait_gone(pid: int, process: subprocess.Popen[bytes] | None, timeout: float) -> bool:
    if process is not None:
        try:
            process.wait(timeout)
            return True
        except subprocess.TimeoutExpired:
            return False
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    return False


def mounts_below(root: Path, mountinfo: Path = Path("/proc/self/mountinfo")) -> list[Path]:
    """Mount points at or below `root`, deepest first (the order to unmount them in)."""
    prefix = str(root.resolve())
    points = []
    for line in mountinfo.read_text().splitlines():
        fields = line.split(" ")
        point = fields[4].encode().decode("unicode_escape") if len(fields) > 4 else ""
        if point == prefix or point.startswith(prefix + "/"):
            points.append(Path(point))
    return sorted(set(points), key=lambda p: len(p.parts), reverse=True)


def unmount_below(root: Path) -> None:
    """Unmount (lazily, so busy ones go too) every mount dockerd, containerd or debootstrap left under root."""
    for point in mounts_below(root):
        result = subprocess.run(["umount", "-l", str(point)], capture_output=True, text=True, check=False)
        if result.returncode != 0:
            logger.warning("umount %s: %s", point, result.stderr.strip())


def run_quiet(argv: Sequence[str], environ: Mapping[str, str] | None = None, timeout: float = 600) -> str:
    """Run a host command, return stdout; a failure raises EngineError with the tail of its output."""
    try:
        result = subprocess.run(list(argv), env=environ, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        raise EngineError(f"`{' '.join(argv)}` did not finish within {timeout} s") from exc
    if result.returncode != 0:
        raise EngineError(
            f"`{' '.join(argv)}` failed ({result.returncode}):\n{result.stdout[-3000:]}{result.stderr[-3000:]}"
        )
    return result.stdout
