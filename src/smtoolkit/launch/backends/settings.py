"""The distributed engines' own settings, from SMTOOLKIT_* variables (read once, at the entry point).

| variable | default | meaning |
|---|---|---|
| SMTOOLKIT_BACKEND | (from the hyperparameters) | force `process`, `torchrun` or `mpi` |
| SMTOOLKIT_NPROC_PER_HOST | GPUs, else Neuron cores, else 1 | processes per host, over any hyperparameter |
| SMTOOLKIT_HOST_WAIT_S | 300 | how long a host waits for the others' names, ports and reports |
| SMTOOLKIT_EXIT_GRACE_S | 30 | how long torchrun may keep running once every local rank's code has |
|   |   | ended (a rank's leftover non-daemon thread, a stuck agent); then it is stopped |
| SMTOOLKIT_COORDINATOR_PORT | SM_MASTER_PORT + 1 | the master launcher's port for the other hosts' launchers |
| SMTOOLKIT_SSH_PORT | 22 | where MPI workers' sshd listens and the master's ssh connects |
| SMTOOLKIT_SSH_OPTIONS | `-o StrictHostKeyChecking=no ...` | extra ssh client options for mpirun (e.g. `-i KEY`) |
| SMTOOLKIT_SSHD_COMMAND | `/usr/sbin/sshd -D -e` | how an MPI worker starts sshd (`-p PORT`, SetEnv added); |
|   |   | empty: the image runs its own sshd |
| SMTOOLKIT_MPIRUN | `mpirun` | the mpirun binary |
| SMTOOLKIT_MPI_LOCAL_DIR | (unset) | every host runs on this machine (local jobs): no ssh; mpirun starts each |
|   |   | host's daemon through a local agent with that host's variables from `DIR/<host>.json` |
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Mapping
from dataclasses import dataclass

from smtoolkit.errors import ConfigError

PREFIX = "SMTOOLKIT_"
BACKEND_NAMES = ("process", "torchrun", "mpi")
DEFAULT_SSH_OPTIONS = "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR"
DEFAULT_SSHD_COMMAND = "/usr/sbin/sshd -D -e"


@dataclass(frozen=True)
class EngineSettings:
    backend: str | None = None
    nproc_per_host: int | None = None
    host_wait_s: float = 300.0
    exit_grace_s: float = 30.0
    coordinator_port: int | None = None
    ssh_port: int = 22
    ssh_options: tuple[str, ...] = tuple(shlex.split(DEFAULT_SSH_OPTIONS))
    sshd_command: tuple[str, ...] = tuple(shlex.split(DEFAULT_SSHD_COMMAND))
    mpirun: str = "mpirun"
    mpi_local_dir: str | None = None

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> EngineSettings:
        """Each bad value is a ConfigError naming the variable and what was expected."""
        environ = os.environ if environ is None else environ

        def get(name: str) -> str | None:
            value = environ.get(PREFIX + name)
            return value.strip() if value is not None else None

        backend = get("BACKEND") or None
        if backend is not None and backend not in BACKEND_NAMES:
            raise _bad("BACKEND", backend, f"one of {', '.join(BACKEND_NAMES)}")
        sshd = environ.get(PREFIX + "SSHD_COMMAND")
        local_dir = get("MPI_LOCAL_DIR")
        return cls(
            backend=backend,
            nproc_per_host=_integer(get("NPROC_PER_HOST"), "NPROC_PER_HOST"),
            host_wait_s=_number(get("HOST_WAIT_S"), "HOST_WAIT_S", 0.0) or cls.host_wait_s,
            exit_grace_s=_number(get("EXIT_GRACE_S"), "EXIT_GRACE_S", 0.0) or cls.exit_grace_s,
            coordinator_port=_integer(get("COORDINATOR_PORT"), "COORDINATOR_PORT"),
            ssh_port=_integer(get("SSH_PORT"), "SSH_PORT") or cls.ssh_port,
            ssh_options=tuple(shlex.split(environ.get(PREFIX + "SSH_OPTIONS", DEFAULT_SSH_OPTIONS))),
            sshd_command=tuple(shlex.split(DEFAULT_SSHD_COMMAND if sshd is None else sshd)),
            mpirun=get("MPIRUN") or cls.mpirun,
            mpi_local_dir=os.path.abspath(local_dir) if local_dir else None,
        )


def _integer(raw: str | None, name: str) -> int | None:
    value = _number(raw, name, 1.0)
    if value is not None and value != int(value):
        raise _bad(name, raw or "", "a whole number")
    return None if value is None else int(value)


def _number(raw: str | None, name: str, minimum: float) -> float | None:
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        raise _bad(name, raw, "a number") from None
    if value < minimum:
        raise _bad(name, raw, f"a number >= {minimum:g}")
    return value


def _bad(name: str, value: str, expected: str) -> ConfigError:
    return ConfigError.single("settings", f"expected {expected} (got {value!r})", PREFIX + name)
