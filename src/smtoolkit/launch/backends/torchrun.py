"""torchrun on every host of the distribution group: static rendezvous at the master, no ssh.

Each rank runs through `smtoolkit.launch.rank_main`, which writes the rank's error file (torchrun's
TORCHELASTIC_ERROR_FILE and the launcher's own) when the user's code raises, and a finished marker when the
code has ended, which `smtoolkit.launch.exit_guard` uses when torchrun does not exit by itself.
"""

from __future__ import annotations

from collections.abc import Mapping

from smtoolkit.config.training import TrainingEnv
from smtoolkit.launch.backends.base import (
    RANK_DIR_VARIABLE,
    RANK_MAIN,
    EnginePlan,
    coordinator_port,
    procs_per_host,
    rank_dir,
    role_of,
    without_inherited,
)
from smtoolkit.launch.backends.capabilities import engine_network_env
from smtoolkit.launch.backends.settings import EngineSettings
from smtoolkit.launch.entrypoint import EntryPoint

NPROC_HYPERPARAMETER = "sagemaker_torch_distributed_num_processes"


class TorchrunBackend:
    def build(
        self,
        env: TrainingEnv,
        entry: EntryPoint,
        args: list[str],
        job_env: Mapping[str, str],
        settings: EngineSettings,
        environ: Mapping[str, str],
    ) -> EnginePlan:
        role = role_of(env)
        hosts = tuple(env.distribution_hosts)
        nproc = procs_per_host(env, settings, NPROC_HYPERPARAMETER)
        master = env.master_hostname if len(hosts) > 1 else "127.0.0.1"
        directory = rank_dir(env)
        argv = (
            entry.python,
            "-m",
            "torch.distributed.run",
            "--nnodes",
            str(len(hosts)),
            "--node_rank",
            str(hosts.index(env.current_host)),
            "--nproc_per_node",
            str(nproc),
            "--master_addr",
            master,
            "--master_port",
            str(env.master_port),
            "--max_restarts",
            "0",
            RANK_MAIN,
            entry.kind,
            entry.name,
            *args,
        )
        engine_env = without_inherited(
            {**engine_network_env(env.resource_config.current_instance_type, env.network_interface_name, environ)},
            environ,
        )
        return EnginePlan(
            backend="torchrun",
            role=role,
            argv=argv,
            env={**engine_env, RANK_DIR_VARIABLE: directory},
            hosts=hosts,
            master=master,
            master_port=env.master_port,
            coordinator_port=coordinator_port(env, settings),
            procs_per_host=nproc,
            world_size=nproc * len(hosts),
            rank_dir=directory,
            host_wait_s=settings.host_wait_s,
            exit_grace_s=settings.exit_grace_s,
        )


BACKEND = TorchrunBackend()
