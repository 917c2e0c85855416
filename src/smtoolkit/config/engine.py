"""The distributed engines' own settings, from SMTOOLKIT_* variables (read once, at the entry point; an empty
variable is unset, except the two command lines, where empty means none).

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
| SMTOOLKIT_EFA_INSTANCES | (built in) | instance types with EFA, comma-separated; `+` in front adds to the table |
| SMTOOLKIT_EFA_RDMA_INSTANCES | (built in) | instance types with EFA and GPU-direct RDMA, the same way |
"""

from __future__ import annotations

import os
import shlex
from typing import Any, Literal

from pydantic import field_validator

from smtoolkit.config.settings import EMPTY_IS_A_VALUE, EnvSettings, env_field

BackendName = Literal["process", "torchrun", "mpi"]
BACKEND_NAMES: tuple[BackendName, ...] = ("process", "torchrun", "mpi")
DEFAULT_SSH_OPTIONS = "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR"
DEFAULT_SSHD_COMMAND = "/usr/sbin/sshd -D -e"
_COMMAND_LINES = {"json_schema_extra": EMPTY_IS_A_VALUE}


class EngineSettings(EnvSettings):
    backend: BackendName | None = env_field("SMTOOLKIT_BACKEND", None)
    nproc_per_host: int | None = env_field("SMTOOLKIT_NPROC_PER_HOST", None, ge=1)
    host_wait_s: float = env_field("SMTOOLKIT_HOST_WAIT_S", 300.0, ge=0)
    exit_grace_s: float = env_field("SMTOOLKIT_EXIT_GRACE_S", 30.0, ge=0)
    coordinator_port: int | None = env_field("SMTOOLKIT_COORDINATOR_PORT", None, ge=1, le=65535)
    ssh_port: int = env_field("SMTOOLKIT_SSH_PORT", 22, ge=1, le=65535)
    ssh_options: tuple[str, ...] = env_field(
        "SMTOOLKIT_SSH_OPTIONS", tuple(shlex.split(DEFAULT_SSH_OPTIONS)), **_COMMAND_LINES
    )
    sshd_command: tuple[str, ...] = env_field(
        "SMTOOLKIT_SSHD_COMMAND", tuple(shlex.split(DEFAULT_SSHD_COMMAND)), **_COMMAND_LINES
    )
    mpirun: str = env_field("SMTOOLKIT_MPIRUN", "mpirun", min_length=1)
    mpi_local_dir: str | None = env_field("SMTOOLKIT_MPI_LOCAL_DIR", None)
    efa_instances: str | None = env_field("SMTOOLKIT_EFA_INSTANCES", None)
    efa_rdma_instances: str | None = env_field("SMTOOLKIT_EFA_RDMA_INSTANCES", None)

    @field_validator("backend", "mpirun", mode="before")
    @classmethod
    def _strip(cls, value: Any) -> Any:
        return value.strip() if isinstance(value, str) else value

    @field_validator("ssh_options", "sshd_command", mode="before")
    @classmethod
    def _split_command_line(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        try:
            return tuple(shlex.split(value))
        except ValueError as exc:  # an unclosed quote
            raise ValueError(f"expected a command line: {exc}") from None

    @field_validator("mpi_local_dir")
    @classmethod
    def _absolute(cls, value: str | None) -> str | None:
        return os.path.abspath(value.strip()) if value and value.strip() else None
