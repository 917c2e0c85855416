"""`smtoolkit local train --image IMAGE`: each host's container side in a Docker container instead of a process.

Every host runs `docker run IMAGE train` (the image's ENTRYPOINT being `smtoolkit`) with its job tree mounted at
/opt/ml, `--hostname algo-N` and a Docker network of the job's own, on which each container is reachable by its
host name (so no SMTOOLKIT_HOST_ADDRESSES). A local source dir is mounted read-only at the same path, so
sagemaker_submit_directory still names it. Variables reach the container as `-e NAME` (values stay out of
argv). Stopping sends `docker stop` (the stop signal, then SIGKILL after the grace period); whatever is left
when the job ends is removed with `docker rm -f`, and the network with it.
"""

from __future__ import annotations

import contextlib
import json
import logging
import shutil
import subprocess
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path

from smtoolkit.errors import LaunchError
from smtoolkit.local.platform.runner import HostLaunch

log = logging.getLogger(__name__)

CONTAINER_BASE_DIR = "/opt/ml"
ENGINE_TIMEOUT_S = 20.0
# Host variables never passed into a container: they describe this machine, not the job.
NOT_PASSED = ("PATH", "HOME", "PWD", "OLDPWD", "SHLVL", "HOSTNAME", "VIRTUAL_ENV", "PYTHONPATH", "TMPDIR", "_")


def docker_cli(environ: Mapping[str, str]) -> str:
    found = shutil.which("docker", path=environ.get("PATH"))
    if not found:
        raise LaunchError("--image needs the `docker` CLI on PATH (or podman's docker-compatible one); none found")
    return found


def _docker(cli: str, args: Sequence[str], environ: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            [cli, *args], env=dict(environ), capture_output=True, text=True, timeout=ENGINE_TIMEOUT_S, check=False
        )
    except subprocess.TimeoutExpired:
        raise LaunchError(f"`docker {' '.join(args)}` did not answer within {ENGINE_TIMEOUT_S:g} s") from None


def check_engine(cli: str, environ: Mapping[str, str]) -> None:
    """A LaunchError saying why when no Docker engine answers (DOCKER_HOST, or the default socket)."""
    result = _docker(cli, ["version", "--format", "{{.Server.Version}}"], environ)
    if result.returncode != 0:
        where = environ.get("DOCKER_HOST") or "the default socket (set DOCKER_HOST to use another)"
        detail = result.stderr.strip().splitlines()[-1:] or ["no output"]
        raise LaunchError(f"--image: no Docker engine reachable at {where}: {detail[0]}")


class ContainerHosts:
    """The `docker run` of each host on the job's own Docker network (`launch`, no effect); `check()` asks the
    engine, `open()` creates the network, `close()` removes what is left."""

    def __init__(self, image: str, network: str, environ: Mapping[str, str], grace_period: float) -> None:
        self.image = image
        self.network = network
        self.environ = environ
        self.grace_period = grace_period
        self.cli = docker_cli(environ)

    def container_name(self, host: str) -> str:
        return f"{self.network}-{host}"

    def check(self) -> None:
        """A LaunchError saying why when no Docker engine answers: before any work."""
        check_engine(self.cli, self.environ)

    def open(self) -> None:
        created = _docker(self.cli, ["network", "create", self.network], self.environ)
        if created.returncode != 0:
            raise LaunchError(f"--image: cannot create Docker network {self.network}: {created.stderr.strip()}")

    def launch(
        self,
        host: str,
        tree: Path,
        command: tuple[Sequence[str], Sequence[str]],
        job_env: Mapping[str, str],
        mounts: Sequence[Path] = (),
        writable: Sequence[tuple[Path, str]] = (),
    ) -> HostLaunch:
        """`docker run` for `host`, its tree at /opt/ml, `mounts` read-only at their own path and each `writable`
        (host folder, container path) read-write; `command` is (ContainerEntrypoint, arguments): arguments alone
        follow the image's ENTRYPOINT. The launch's env holds the variables passed (by name) into the container."""
        entrypoint, args = command
        name = self.container_name(host)
        passed = {key: value for key, value in job_env.items() if key not in NOT_PASSED}
        argv = [self.cli, "run", "--rm", "--name", name, "--hostname", host, "--network", self.network]
        argv += ["--network-alias", host, "-v", f"{tree.resolve()}:{CONTAINER_BASE_DIR}"]
        for mount in mounts:
            argv += ["-v", f"{mount}:{mount}:ro"]
        for folder, seen_at in writable:
            argv += ["-v", f"{folder.resolve()}:{seen_at}"]
        argv += [part for key in sorted(passed) for part in ("-e", key)]
        if entrypoint:
            argv += ["--entrypoint", entrypoint[0]]
            args = [*entrypoint[1:], *args]
        stop = (self.cli, "stop", "-t", str(max(int(self.grace_period), 0)), name)
        return HostLaunch(host, (*argv, self.image, *args), passed, tree, stop_argv=stop)

    def close(self, hosts: Sequence[str]) -> None:
        """Remove the hosts' containers left running, and the network."""
        with contextlib.suppress(LaunchError):
            if hosts:
                _docker(self.cli, ["rm", "-f", *map(self.container_name, hosts)], self.environ)
            removed = _docker(self.cli, ["network", "rm", self.network], self.environ)
            if removed.returncode != 0:
                log.warning("cannot remove Docker network %s: %s", self.network, removed.stderr.strip())


def job_network(job_name: str) -> str:
    """A Docker network name of the job's own, unique to this run."""
    return f"smtoolkit-{job_name.lower()[:40]}-{uuid.uuid4().hex[:8]}"


def local_source_mounts(hyperparameters: Mapping[str, str]) -> list[Path]:
    """The local source dir (or tarball) that sagemaker_submit_directory names, to mount at the same path."""
    raw = hyperparameters.get("sagemaker_submit_directory")
    if not raw:
        return []
    try:
        value = json.loads(raw)
    except ValueError:
        value = raw
    if not isinstance(value, str) or "://" in value and not value.startswith("file://"):
        return []
    path = Path(value.removeprefix("file://"))
    return [path.resolve()] if path.is_absolute() and path.exists() else []
