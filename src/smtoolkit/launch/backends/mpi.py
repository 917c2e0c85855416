"""OpenMPI: `mpirun` on the master with --host from resourceconfig.json; the other hosts run sshd and wait.

Values never appear in mpirun's argv: every variable reaches the ranks as `-x NAME` (mpirun forwards its own
value), and a worker's sshd adds SMTOOLKIT_HOST_ENV (SetEnv) pointing at that host's own job variables,
which `smtoolkit.launch.rank_main` applies, so remote ranks see their own host's SM_CURRENT_HOST, paths and
code dir. Python entry points run under `python -m mpi4py`, so an uncaught exception aborts every rank.
With SMTOOLKIT_MPI_LOCAL_DIR (every host on this machine: local jobs) there is no ssh: mpirun's rsh agent
starts each host's orted here with the same per-host variables (smtoolkit.launch.mpi_local).
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from dataclasses import replace

from smtoolkit.config.engine import EngineSettings
from smtoolkit.errors import ConfigError
from smtoolkit.launch.backends.base import (
    HOST_ENV_VARIABLE,
    RANK_MAIN,
    EngineInputs,
    EnginePlan,
    distributed_plan,
    positive_int,
)
from smtoolkit.launch.entrypoint import EntryPoint
from smtoolkit.launch.mpi_local import agent_path

PER_HOST_HYPERPARAMETER = "sagemaker_mpi_num_of_processes_per_host"
TOTAL_HYPERPARAMETER = "sagemaker_mpi_num_processes"
CUSTOM_HYPERPARAMETER = "sagemaker_mpi_custom_mpi_options"
HOST_ENV_FILE = "host-env.json"
# Always forwarded when the launcher's environment has them (names only, values stay out of argv).
FORWARDED = (
    "SAGEMAKER_BASE_DIR",
    "PATH",
    "LD_LIBRARY_PATH",
    "LD_PRELOAD",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
)


def custom_options(value: object) -> tuple[list[str], dict[str, str]]:
    """sagemaker_mpi_custom_mpi_options, shell-quoted; `--NCCL_DEBUG X` (the SDK's spelling) becomes a variable."""
    try:
        tokens = shlex.split(str(value or ""))
    except ValueError as exc:
        raise ConfigError.single(
            "hyperparameters.json", f"cannot split {value!r}: {exc}", CUSTOM_HYPERPARAMETER
        ) from None
    options: list[str] = []
    env: dict[str, str] = {}
    iterator = iter(tokens)
    for token in iterator:
        if token == "--NCCL_DEBUG":
            env["NCCL_DEBUG"] = next(iterator, "INFO")
        elif token.startswith("--NCCL_DEBUG="):
            env["NCCL_DEBUG"] = token.split("=", 1)[1]
        else:
            options.append(token)
    return options, env


class MpiBackend:
    def build(self, inputs: EngineInputs) -> EnginePlan:
        env, settings = inputs.env, inputs.settings
        plan = distributed_plan("mpi", inputs, PER_HOST_HYPERPARAMETER)
        total_raw = env.framework_params.get(TOTAL_HYPERPARAMETER)
        total = positive_int(total_raw, TOTAL_HYPERPARAMETER) if total_raw is not None else plan.world_size
        options, option_env = custom_options(env.framework_params.get(CUSTOM_HYPERPARAMETER))
        local_dir = (settings.mpi_local_dir or "") if plan.is_distributed else ""
        plan = replace(plan, env={**plan.env, **option_env}, world_size=total, local_dir=local_dir)
        if not local_dir:
            plan = replace(plan, ssh_port=settings.ssh_port)
        if plan.role == "worker":
            return plan if local_dir else replace(plan, sshd_argv=self._sshd(settings, plan.rank_dir))
        launch: list[str] = []
        if plan.role != "single":
            launch = self._local_agent(plan.rank_dir) if local_dir else self._ssh(settings)
        argv = (
            *self._mpirun(settings, plan.hosts, plan.procs_per_host, total, env.network_interface_name, launch),
            *self._forward(inputs.environ, inputs.job_env, plan.env),
            *options,
            *self._rank_argv(inputs.entry, inputs.args),
        )
        return replace(plan, argv=argv)

    @staticmethod
    def _mpirun(
        settings: EngineSettings, hosts: tuple[str, ...], per_host: int, total: int, interface: str, launch: list[str]
    ) -> list[str]:
        """mpirun and the options that are needed or pay for themselves (measured: bench/bench_multihost.py).

        -map-by slot: host after host in --host order, so rank r runs on host r // per_host. -bind-to none:
        a rank's threads (data loaders, OpenMP) may use every core. pml ob1: skips probing the cm PML's MTLs
        (psm, psm2), ~0.2 s per job. btl_vader_single_copy_mechanism none: CMA needs ptrace rights between
        ranks, which a container usually lacks. Multi-host: `launch` (how the other hosts' daemons start), and
        the job's interface for MPI traffic and mpirun's own. Not passed: `btl ^openib` (replaces the image's own
        exclusions: on Debian it re-enables the ofi/uct BTLs, +1.2 s a job) and orte_abort_on_non_zero_status
        (already the default).
        """
        host_list = ",".join(f"{host}:{per_host}" for host in hosts)
        argv = [settings.mpirun, "--host", host_list, "-np", str(total), "--allow-run-as-root"]
        argv += ["-map-by", "slot", "-bind-to", "none", "-mca", "pml", "ob1"]
        argv += ["-mca", "btl_vader_single_copy_mechanism", "none"]
        if launch:
            argv += launch
            argv += ["-mca", "btl_tcp_if_include", interface, "-mca", "oob_tcp_if_include", interface]
        return argv

    @staticmethod
    def _ssh(settings: EngineSettings) -> list[str]:
        """ssh to each worker's sshd; plm_rsh_no_tree_spawn: only the master ssh's (workers may hold no
        client key)."""
        ssh = shlex.join(["-p", str(settings.ssh_port), *settings.ssh_options])
        return ["-mca", "plm_rsh_args", ssh, "-mca", "plm_rsh_no_tree_spawn", "1"]

    @staticmethod
    def _local_agent(rank_dir: str) -> list[str]:
        """Every host here: the master's agent starts each host's orted, which stays in the engine's session."""
        agent = ["-mca", "plm_rsh_agent", agent_path(rank_dir), "-mca", "plm_rsh_no_tree_spawn", "1"]
        # Every host name may resolve to this machine: mpirun must not take the others for itself.
        return [*agent, "-mca", "orte_leave_session_attached", "1", "-mca", "if_base_do_not_resolve", "1"]

    @staticmethod
    def _forward(environ: Mapping[str, str], job_env: Mapping[str, str], engine_env: Mapping[str, str]) -> list[str]:
        """`-x NAME` for the job's variables (SM_*, PYTHONPATH...), the engine's, and a few of the image's."""
        names = set(job_env) | set(engine_env) | {name for name in FORWARDED if name in environ}
        return [part for name in sorted(names) for part in ("-x", name)]

    @staticmethod
    def _rank_argv(entry: EntryPoint, args: list[str]) -> tuple[str, ...]:
        if entry.kind in ("script", "module", "function"):
            return (entry.python, "-m", "mpi4py", RANK_MAIN, entry.kind, entry.name, *args)
        return (entry.python, RANK_MAIN, entry.kind, entry.name, *args)

    @staticmethod
    def _sshd(settings: EngineSettings, directory: str) -> tuple[str, ...]:
        if not settings.sshd_command:
            return ()
        setenv = f"SetEnv {HOST_ENV_VARIABLE}={directory}/{HOST_ENV_FILE}"
        return (*settings.sshd_command, "-p", str(settings.ssh_port), "-o", setenv)


BACKEND = MpiBackend()
