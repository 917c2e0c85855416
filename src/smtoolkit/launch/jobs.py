"""The `train` and `process` pipelines: settings -> plan -> execute -> report. Returns the exit code."""

from __future__ import annotations

import logging
import os
import shutil
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from smtoolkit.config.engine import EngineSettings
from smtoolkit.config.launcher import LauncherSettings
from smtoolkit.config.training import TrainingEnv
from smtoolkit.dirsync.intermediate import start_intermediate_upload
from smtoolkit.errors import ConfigError, LaunchError, SmtoolkitError
from smtoolkit.launch import entrypoint, report
from smtoolkit.launch.plan import LaunchPlan, build_plan, with_engine
from smtoolkit.logs import configure_logging, masked
from smtoolkit.paths import JobPaths
from smtoolkit.proc.supervise import Outcome, ProcessSpec, run_supervised
from smtoolkit.usercode.install import install_code_dependencies

if TYPE_CHECKING:
    from smtoolkit.launch.backends.base import EnginePlan

logger = logging.getLogger(__name__)

MESSAGE_BYTES = 1024


def run_training(settings: LauncherSettings, dry_run: bool = False, environ: Mapping[str, str] | None = None) -> int:
    environ = os.environ if environ is None else environ
    try:
        env = TrainingEnv.load(environ=environ)
    except ConfigError as error:
        logger.error("%s", error)
        if not dry_run:
            report.write_failure(JobPaths.from_env(environ).failure_file, report.error_message(error))
        return 1
    configure_logging(env.log_level)
    logger.info("settings: %s", masked(settings.model_dump()))
    failure_file = env.output_dir / "failure"
    try:
        engine_settings = EngineSettings.from_environ(environ)
        if dry_run:
            entry = entrypoint.resolve(env.user_entry_point, env.framework_module, env.code_dir, check=False)
            plan = build_plan(env, entry, [], settings.argv_style, environ.get("PYTHONPATH"))
            plan = with_engine(plan, env, settings.argv_style, engine_settings, environ)
            sys.stdout.write(plan.render() + "\n")
            return 0
        plan = _prepare(env, settings, environ)
        plan = with_engine(plan, env, settings.argv_style, engine_settings, environ)
        intermediate = start_intermediate_upload(env, environ)
    except SmtoolkitError as error:
        logger.error("%s", report.error_message(error))
        report.write_failure(failure_file, report.error_message(error))
        return error.exit_code
    try:
        return _run(plan, settings, env, environ)
    finally:
        if intermediate is not None:  # the final pass, after output/success or output/failure is written
            intermediate.stop()


def _prepare(env: TrainingEnv, settings: LauncherSettings, environ: Mapping[str, str]) -> LaunchPlan:
    from smtoolkit.usercode.fetch import fetch_code

    code_dir = env.code_dir
    if env.submit_directory and Path(env.submit_directory) != code_dir:
        result = fetch_code(env.submit_directory, code_dir, environ)
        logger.info("code from %s (%s, %d files) in %s", result.uri, result.kind, result.files_written, code_dir)
    entry = entrypoint.resolve(env.user_entry_point, env.framework_module, code_dir)
    if entry.kind == "executable":
        target = code_dir / entry.name
        target.chmod(target.stat().st_mode | 0o111)
    steps = install_code_dependencies(code_dir, settings, environ)
    return build_plan(env, entry, steps, settings.argv_style, environ.get("PYTHONPATH"))


def _run(plan: LaunchPlan, settings: LauncherSettings, env: TrainingEnv, environ: Mapping[str, str]) -> int:
    logger.info("launch plan: %s", plan.render())
    engine = plan.engine
    if engine is not None and engine.is_distributed:
        from smtoolkit.launch.distributed import run_distributed

        try:
            return run_distributed(plan, engine, settings, env, environ)
        except SmtoolkitError as error:
            logger.error("%s", report.error_message(error))
            report.write_failure(env.output_dir / "failure", report.error_message(error))
            return error.exit_code
    spec = ProcessSpec(plan.argv, plan.child_env(environ), plan.cwd)
    if engine is not None and engine.backend != "process":  # torchrun or mpirun on this one host
        spec = ProcessSpec(engine.argv, {**spec.env, **engine.env}, plan.cwd)
        outcome = _run_single_host_engine(spec, engine, settings)
    else:
        outcome = run_supervised(
            spec, grace_period=settings.grace_period_s, stderr_tail_bytes=settings.stderr_tail_kib * 1024
        )
    if outcome.exit_code == 0:
        logger.info("reporting training success")
        report.write_success(env.output_dir / "success")
        return 0
    logger.error("reporting training failure: exit code %d", outcome.exit_code)
    report.write_failure(env.output_dir / "failure", report.outcome_message(outcome, spec.argv))
    return outcome.exit_code


def _run_single_host_engine(spec: ProcessSpec, engine: EnginePlan, settings: LauncherSettings) -> Outcome:
    from smtoolkit.launch.exit_guard import run_engine

    rank_dir = Path(engine.rank_dir)
    shutil.rmtree(rank_dir, ignore_errors=True)  # a marker left by an earlier run would end this one
    try:
        tail = settings.stderr_tail_kib * 1024
        return run_engine(spec, engine, grace_period=settings.grace_period_s, stderr_tail_bytes=tail)
    finally:
        shutil.rmtree(rank_dir, ignore_errors=True)


def run_processing(command: Sequence[str], settings: LauncherSettings, environ: Mapping[str, str] | None = None) -> int:
    """Run a processing container's command under the same supervision; on failure write output/message."""
    environ = os.environ if environ is None else environ
    paths = JobPaths.from_env(environ)
    if not command:
        _write_message(paths.message_file, "ConfigError: no command given to `smtoolkit process -- CMD ARGS...`")
        return 2
    try:
        outcome = run_supervised(
            ProcessSpec(tuple(command), dict(environ), Path.cwd()),
            grace_period=settings.grace_period_s,
            stderr_tail_bytes=settings.stderr_tail_kib * 1024,
        )
    except LaunchError as error:
        _write_message(paths.message_file, report.error_message(error))
        return 127
    if outcome.exit_code != 0:
        _write_message(paths.message_file, report.outcome_message(outcome, command))
    return outcome.exit_code


def _write_message(message_file: Path, text: str) -> None:
    """At most 1 KB of valid UTF-8 (the platform fails the job on anything else)."""
    data = text.encode("utf-8")[:MESSAGE_BYTES].decode("utf-8", "ignore")
    message_file.parent.mkdir(parents=True, exist_ok=True)
    message_file.write_text(data, encoding="utf-8")
    logger.error("%s", text)
