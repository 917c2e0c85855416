"""Running a torchrun or MPI engine plan on this host, and agreeing on the job's outcome with the others.

Master: wait for the hosts' names (and MPI workers' sshd), listen for the other launchers, run the engine
supervised, then collect every host's report (bounded), decide and broadcast the verdict. Other hosts: start
torchrun (or, for MPI, sshd until the master says the job ended) at once while connecting to the master's
launcher in the background (bounded), report, and take the master's verdict. Every host writes the same
outcome; a failure anywhere stops the engine everywhere (each launcher stops its own engine as if it had
received SIGTERM). torchrun runs under an exit guard (exit_guard.py). A SIGTERM from outside during a
readiness wait ends the wait at once (the master then tells the other hosts the job was stopped).
MPI hosts all on this machine (engine.local_dir) have no sshd: each launcher writes its host's variables where
the master's rsh agent reads them, and the master waits for those files (smtoolkit.launch.mpi_local).
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
from collections.abc import Mapping
from pathlib import Path
from types import FrameType
from typing import Any

from smtoolkit.config.launcher import LauncherSettings
from smtoolkit.config.training import TrainingEnv
from smtoolkit.errors import LaunchError, write_failure_file
from smtoolkit.launch import report
from smtoolkit.launch.backends.base import EnginePlan
from smtoolkit.launch.backends.mpi import HOST_ENV_FILE
from smtoolkit.launch.coordinator import Coordinator
from smtoolkit.launch.coordinator_client import CoordinatorClient
from smtoolkit.launch.exit_guard import run_engine
from smtoolkit.launch.hosts import wait_for_files, wait_for_names, wait_for_port
from smtoolkit.launch.mpi_local import host_env_file, scratch_dir, write_agent, write_host_env
from smtoolkit.launch.plan import LaunchPlan
from smtoolkit.launch.verdict import Message, decide, failure_message, host_report
from smtoolkit.paths import JobPaths
from smtoolkit.proc.signals import STOPPING, install_handlers, restore_handlers
from smtoolkit.proc.supervise import Outcome, ProcessSpec

logger = logging.getLogger(__name__)


class _StopRequests:
    """SIGTERM/SIGINT outside supervision are noted, not fatal, so a launcher may signal itself to stop
    its engine at any moment (run_supervised forwards them while it runs and restores this handler after)."""

    def __init__(self) -> None:
        self.received: int | None = None
        self.engine_stop_requested = False
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> _StopRequests:
        self._previous = install_handlers(STOPPING, self._note)
        return self

    def __exit__(self, *exc: object) -> None:
        restore_handlers(self._previous)

    def _note(self, signum: int, frame: FrameType | None) -> None:
        self.received = self.received or signum

    def external(self) -> int | None:
        """A stop signal from outside (the platform, a user), not one this launcher sent itself to stop its
        engine: that one means the job is ending anyway, and its verdict is on the way."""
        return None if self.engine_stop_requested else self.received

    def stop_engine(self) -> None:
        self.engine_stop_requested = True
        os.kill(os.getpid(), signal.SIGTERM)


def run_distributed(
    plan: LaunchPlan, settings: LauncherSettings, env: TrainingEnv, environ: Mapping[str, str], paths: JobPaths
) -> int:
    engine = plan.engine
    rank_dir = Path(engine.rank_dir)
    shutil.rmtree(rank_dir, ignore_errors=True)
    rank_dir.mkdir(parents=True)
    host_env = _host_env_path(engine, env.current_host)
    try:
        if host_env is not None:
            variables = dict(plan.env)
            if "SAGEMAKER_BASE_DIR" in environ:
                variables["SAGEMAKER_BASE_DIR"] = environ["SAGEMAKER_BASE_DIR"]
            write_host_env(host_env, variables, plan.cwd)
        if engine.local_dir and engine.role == "master":
            shutil.rmtree(scratch_dir(engine.local_dir), ignore_errors=True)  # a killed run's leftovers
            write_agent(engine.rank_dir, engine.local_dir)
        with _StopRequests() as stops:
            if engine.role == "master":
                verdict = _master(plan, engine, settings, environ, stops)
            else:
                verdict = _worker(plan, engine, settings, env, environ, stops)
    finally:
        shutil.rmtree(rank_dir, ignore_errors=True)
        if engine.local_dir and host_env is not None:
            host_env.unlink(missing_ok=True)
        if engine.local_dir and engine.role == "master":
            shutil.rmtree(scratch_dir(engine.local_dir), ignore_errors=True)
    return _report(verdict, engine, paths)


def _host_env_path(engine: EnginePlan, host: str) -> Path | None:
    """Where this host's job variables go for its MPI ranks (rank_main applies them): the agent's file when
    every host is here, the worker's sshd's SetEnv file otherwise; None when its ranks inherit mpirun's."""
    if engine.backend != "mpi":
        return None
    if engine.local_dir:
        return host_env_file(engine.local_dir, host)
    return Path(engine.rank_dir) / HOST_ENV_FILE if engine.role == "worker" else None


def _supervise(
    argv: tuple[str, ...], plan: LaunchPlan, engine: EnginePlan, settings: LauncherSettings, environ: Mapping[str, str]
) -> Outcome:
    spec = ProcessSpec(argv, plan.child_env(environ), plan.cwd)
    return run_engine(
        spec, engine, grace_period=settings.grace_period_s, stderr_tail_bytes=settings.stderr_tail_kib * 1024
    )


def _master(
    plan: LaunchPlan, engine: EnginePlan, settings: LauncherSettings, environ: Mapping[str, str], stops: _StopRequests
) -> Message:
    wait_for_names([engine.address_of(host) for host in engine.hosts], engine.host_wait_s, stops.external)
    coordinator = Coordinator(list(engine.hosts), engine.coordinator_port, on_abort=stops.stop_engine)
    try:
        if engine.backend == "mpi" and not _workers_ready(engine, stops):
            waited_for = "the MPI workers' launchers" if engine.local_dir else "the MPI workers' sshd"
            verdict = _stopped_verdict(engine, stops, waited_for)
            coordinator.finish(verdict)
            return verdict
        outcome = _supervise(engine.argv, plan, engine, settings, environ)
        stopped = outcome.stopped_by or stops.received
        external_stop = stopped is not None and not coordinator.aborted
        coordinator.report(host_report(engine.master, outcome, Path(engine.rank_dir)))
        if external_stop:
            coordinator.abort()
        reports = coordinator.collect(engine.host_wait_s, ask=engine.backend == "mpi")
        verdict = {**decide(reports, outcome), "exit_codes": {h: r.get("exit_code") for h, r in reports.items()}}
        if external_stop:
            name = signal.Signals(stopped).name if stopped else "a signal"
            error = f"the job was stopped: the master's launcher received {name}"
            verdict.update(ok=False, exit_code=outcome.exit_code or 1, rank=None, host=engine.master, error=error)
    except BaseException:
        coordinator.close()
        raise
    coordinator.finish(verdict)
    return verdict


def _workers_ready(engine: EnginePlan, stops: _StopRequests) -> bool:
    """Every MPI worker's sshd answers (or, every host here, its launcher wrote its variables); False when the
    launcher was stopped while it waited."""
    try:
        if engine.local_dir:
            files = [host_env_file(engine.local_dir, host) for host in engine.hosts[1:]]
            wait_for_files(files, engine.host_wait_s, "the MPI workers' launchers", stops.external)
            return True
        for host in engine.hosts[1:]:
            what = f"sshd on the MPI workers ({host})"
            wait_for_port(engine.address_of(host), engine.ssh_port, engine.host_wait_s, what, stops.external)
    except LaunchError:
        if stops.external() is None:
            raise
        return False
    return True


def _stopped_verdict(engine: EnginePlan, stops: _StopRequests, waited_for: str) -> Message:
    signum = stops.external() or signal.SIGTERM
    name = signal.Signals(signum).name
    error = f"the job was stopped: the master's launcher received {name} while waiting for {waited_for}"
    logger.error("%s", error)
    return {"ok": False, "exit_code": 128 + signum, "rank": None, "host": engine.master, "error": error}


def _worker(
    plan: LaunchPlan,
    engine: EnginePlan,
    settings: LauncherSettings,
    env: TrainingEnv,
    environ: Mapping[str, str],
    stops: _StopRequests,
) -> Message:
    rank_dir = Path(engine.rank_dir)
    host = env.current_host
    mpi = engine.backend == "mpi"
    client = CoordinatorClient(
        host,
        engine.master_addr,
        engine.coordinator_port,
        engine.host_wait_s,
        on_abort=stops.stop_engine,
        on_collect=lambda: host_report(host, None, rank_dir),
        on_end=stops.stop_engine if mpi else lambda: None,
        stopped=stops.external,
    )
    try:
        if not mpi:
            outcome = _supervise(engine.argv, plan, engine, settings, environ)
            client.report(host_report(host, outcome, rank_dir))
            return client.wait_verdict(engine.host_wait_s)
        if engine.sshd_argv:
            _supervise(engine.sshd_argv, plan, engine, settings, environ)
        return client.wait_verdict(engine.host_wait_s if engine.sshd_argv else None)
    finally:
        client.close()


def _report(verdict: Message, engine: EnginePlan, paths: JobPaths) -> int:
    if verdict.get("ok"):
        logger.info("reporting training success (%s on %d hosts)", engine.backend, len(engine.hosts))
        report.write_success(paths.success_file)
        return 0
    message = failure_message(verdict, engine.argv or engine.sshd_argv, verdict.get("exit_codes"))
    logger.error("reporting training failure: %s", message.splitlines()[2] if message.count("\n") > 2 else message)
    write_failure_file(paths.failure_file, message)
    return int(verdict.get("exit_code") or 1)
