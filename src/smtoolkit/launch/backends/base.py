"""What every backend produces: an EnginePlan, a frozen value printed by `train --dry-run`."""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from smtoolkit.config.engine import EngineSettings
from smtoolkit.config.training import TrainingEnv
from smtoolkit.errors import ConfigError
from smtoolkit.launch.backends.capabilities import engine_network_env
from smtoolkit.launch.entrypoint import EntryPoint

# single: one host runs it all; master/worker: a multi-host job; bystander: a host outside the distribution
# groups of a heterogeneous cluster, which runs the script as a plain process.
Role = Literal["single", "master", "worker", "bystander"]
# Run by path: the rank's interpreter needs only the standard library, and imports no package to start.
RANK_MAIN = str(Path(__file__).resolve().parent.parent / "rank_main.py")
RANK_DIR_VARIABLE = "SMTOOLKIT_RANK_DIR"
HOST_ENV_VARIABLE = "SMTOOLKIT_HOST_ENV"


@dataclass(frozen=True)
class EnginePlan:
    backend: str
    role: Role
    argv: tuple[str, ...]  # what this host runs; an MPI worker runs sshd_argv instead
    env: Mapping[str, str] = field(default_factory=dict)  # additions over the launch plan's env
    hosts: tuple[str, ...] = ()  # the distribution hosts, master first
    master: str = ""
    master_port: int = 0
    # Where each host is reached (SMTOOLKIT_HOST_ADDRESSES), else by its name; see `address_of`.
    addresses: Mapping[str, str] = field(default_factory=dict)
    coordinator_port: int = 0
    procs_per_host: int = 1
    world_size: int = 1
    rank_dir: str = ""
    sshd_argv: tuple[str, ...] = ()
    ssh_port: int = 0
    local_dir: str = ""  # MPI hosts all on this machine (SMTOOLKIT_MPI_LOCAL_DIR): no ssh, see mpi_local.py
    host_wait_s: float = 300.0
    exit_grace_s: float = 30.0  # torchrun: how long it may outlive the end of every local rank's code

    @property
    def is_distributed(self) -> bool:
        return self.role in ("master", "worker")

    def address_of(self, host: str) -> str:
        return self.addresses.get(host, host)

    @property
    def master_addr(self) -> str:
        """What the engine and the other hosts' launchers connect to."""
        return self.address_of(self.master)

    def describe(self) -> dict[str, Any]:
        described: dict[str, Any] = {"backend": self.backend, "role": self.role}
        if self.backend == "process":
            return described
        described.update(
            hosts=list(self.hosts),
            master=f"{self.master}:{self.master_port}",
            procs_per_host=self.procs_per_host,
            world_size=self.world_size,
            argv=list(self.argv),
            env=dict(sorted(self.env.items())),
            rank_dir=self.rank_dir,
        )
        if self.is_distributed:
            described.update(coordinator=f"{self.master}:{self.coordinator_port}", host_wait_s=self.host_wait_s)
            if self.addresses:
                described["addresses"] = {host: self.address_of(host) for host in self.hosts}
        if self.backend == "torchrun":
            described["exit_grace_s"] = self.exit_grace_s
        if self.sshd_argv:
            described["sshd"] = list(self.sshd_argv)
        if self.local_dir:
            described["local_dir"] = self.local_dir
        return described


@dataclass(frozen=True)
class EngineInputs:
    """What a backend builds its plan from: the job, its entry point and arguments, the launch plan's variables
    (the job's SM_* and friends), the operator's settings and the launcher's own environment."""

    env: TrainingEnv
    entry: EntryPoint
    args: list[str]
    job_env: Mapping[str, str]
    settings: EngineSettings
    environ: Mapping[str, str]


class Backend(Protocol):
    def build(self, inputs: EngineInputs) -> EnginePlan: ...


def role_of(env: TrainingEnv) -> Role:
    hosts = env.distribution_hosts
    if env.current_host not in hosts:
        return "bystander"
    if len(hosts) == 1:
        return "single"
    return "master" if env.is_master else "worker"


def procs_per_host(env: TrainingEnv, settings: EngineSettings, hyperparameter: str) -> int:
    """The operator's override, else the hyperparameter, else GPUs, else Neuron cores, else 1."""
    if settings.nproc_per_host:
        return settings.nproc_per_host
    value = env.framework_params.get(hyperparameter)
    if value is not None:
        return positive_int(value, hyperparameter)
    return env.num_gpus or env.num_neurons or 1


def positive_int(value: Any, hyperparameter: str) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = 0
    if isinstance(value, bool) or number < 1 or str(number) != str(value).strip():
        raise ConfigError.single(
            "hyperparameters.json", f"expected a whole number >= 1 (got {value!r})", hyperparameter
        )
    return number


def rank_dir(env: TrainingEnv) -> str:
    """Where this host's ranks write their error files: fixed per job tree and host, so a plan can name it."""
    digest = hashlib.sha1(f"{env.base_dir.resolve()}\0{env.current_host}".encode()).hexdigest()[:12]
    return str(Path(tempfile.gettempdir()) / f"smtoolkit-ranks-{digest}")


def coordinator_port(env: TrainingEnv, settings: EngineSettings) -> int:
    return settings.coordinator_port or env.master_port + 1


def without_inherited(additions: Mapping[str, str], environ: Mapping[str, str]) -> dict[str, str]:
    """Engine defaults the image's own environment has not already set."""
    return {name: value for name, value in additions.items() if name not in environ}


def distributed_plan(backend: str, inputs: EngineInputs, per_host_hyperparameter: str) -> EnginePlan:
    """What torchrun and mpi plan alike; each backend then replaces argv and adds its own fields.

    The master is the job's master host, every host runs the same number of ranks, and the engine's variables are
    the network ones the image has not set plus where the ranks write their error files.
    """
    env, settings, environ = inputs.env, inputs.settings, inputs.environ
    hosts = tuple(env.distribution_hosts)
    per_host = procs_per_host(env, settings, per_host_hyperparameter)
    directory = rank_dir(env)
    network = engine_network_env(env.resource_config.current_instance_type, env.network_interface_name, settings)
    return EnginePlan(
        backend=backend,
        role=role_of(env),
        argv=(),
        env={**without_inherited(network, environ), RANK_DIR_VARIABLE: directory},
        hosts=hosts,
        master=env.master_hostname,
        master_port=env.master_port,
        addresses={host: env.address_of(host) for host in hosts if env.address_of(host) != host},
        coordinator_port=coordinator_port(env, settings),
        procs_per_host=per_host,
        world_size=per_host * len(hosts),
        rank_dir=directory,
        host_wait_s=settings.host_wait_s,
    )
