"""Running a LaunchPlan: the effects `plan_training` decided, in order, then the job's outcome files.

1. (before the settings and the job are read, `clear_outcome`: the previous run's output/success and
   output/failure go, so what is there at the end was written during this run, by this launcher or the code)
2. fetch the code when the plan says so, then plan again from the fetched code (its entry point and install
   steps could not be known before);
3. install the dependencies (or reuse the warm pool env that has them);
4. start mirroring output/intermediate when the job asks for it (stopped after the outcome is written);
5. run the engine's argv (one process, torchrun or mpirun; multi-host: with the other hosts' launchers);
6. write output/success, or output/failure unless the user's code wrote its own reason.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from smtoolkit.config.engine import EngineSettings
from smtoolkit.config.launcher import LauncherSettings
from smtoolkit.config.training import TrainingEnv
from smtoolkit.dirsync.intermediate import start_intermediate_upload
from smtoolkit.errors import write_failure_file
from smtoolkit.launch import report
from smtoolkit.launch.plan import LaunchPlan, plan_training
from smtoolkit.paths import JobPaths
from smtoolkit.proc.supervise import Outcome, ProcessSpec, run_supervised
from smtoolkit.usercode.install import install_planned

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainingJob:
    """What a plan is made from: the job, the launcher's and the engine's settings, the launcher's environment."""

    env: TrainingEnv
    settings: LauncherSettings
    engine_settings: EngineSettings
    environ: Mapping[str, str]

    @property
    def paths(self) -> JobPaths:
        """Where the platform reads the outcome: the job tree's output/ (SAGEMAKER_BASE_DIR, else /opt/ml)."""
        return JobPaths.from_env(self.environ)

    def plan(self, fetched: bool = False) -> LaunchPlan:
        return plan_training(self.env, self.settings, self.engine_settings, self.environ, fetched)


def clear_outcome(paths: JobPaths) -> None:
    """Remove the outcome files an earlier run left, saying so: they would hide this run's outcome."""
    for path in (paths.success_file, paths.failure_file):
        if path.is_file() or path.is_symlink():
            path.unlink()
            logger.info("removed %s left by an earlier run", path)


def execute(plan: LaunchPlan, job: TrainingJob) -> int:
    """Do what `plan` says (see the module docstring); returns the exit code. Errors propagate to the CLI."""
    if plan.code.fetch:
        from smtoolkit.usercode.fetch import fetch_code  # only jobs that fetch pay for tarfile and storage

        assert plan.code.uri is not None
        fetch_code(plan.code.uri, plan.code.directory, job.environ)
        plan = job.plan(fetched=True)
        logger.info("%s", plan.summary())
        logger.debug("launch plan once the code is fetched: %s", plan.render())
    install_planned(plan.install or (), plan.warm_env, job.settings, job.environ)
    intermediate = start_intermediate_upload(job.env, job.environ) if plan.intermediate_upload else None
    try:
        return _run(plan, job)
    finally:
        if intermediate is not None:  # the final pass, after output/success or output/failure is written
            intermediate.stop()


def _run(plan: LaunchPlan, job: TrainingJob) -> int:
    engine = plan.engine
    if engine.is_distributed:
        from smtoolkit.launch.distributed import run_distributed

        return run_distributed(plan, job.settings, job.env, job.environ, job.paths)
    spec = ProcessSpec(plan.argv, plan.child_env(job.environ), plan.cwd)
    if engine.backend == "process":
        outcome = run_supervised(
            spec, grace_period=job.settings.grace_period_s, stderr_tail_bytes=job.settings.stderr_tail_kib * 1024
        )
    else:  # torchrun or mpirun on this one host
        outcome = _run_single_host_engine(spec, plan, job.settings)
    if outcome.exit_code == 0:
        logger.info("reporting training success")
        report.write_success(job.paths.success_file)
        return 0
    logger.error("reporting training failure: exit code %d", outcome.exit_code)
    write_failure_file(job.paths.failure_file, report.outcome_message(outcome, spec.argv))
    return outcome.exit_code


def _run_single_host_engine(spec: ProcessSpec, plan: LaunchPlan, settings: LauncherSettings) -> Outcome:
    from smtoolkit.launch.exit_guard import run_engine

    rank_dir = Path(plan.engine.rank_dir)
    shutil.rmtree(rank_dir, ignore_errors=True)  # a marker left by an earlier run would end this one
    try:
        tail = settings.stderr_tail_kib * 1024
        return run_engine(spec, plan.engine, grace_period=settings.grace_period_s, stderr_tail_bytes=tail)
    finally:
        shutil.rmtree(rank_dir, ignore_errors=True)
