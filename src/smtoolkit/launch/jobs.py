"""The `train` and `process` pipelines: settings -> plan -> execute -> report. Each returns the exit code of a
run that got as far as the user's code; any error before propagates to the CLI, which ends the command (one
table for every command: smtoolkit.errors)."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from smtoolkit.config.engine import EngineSettings
from smtoolkit.config.launcher import LauncherSettings
from smtoolkit.config.training import TrainingEnv
from smtoolkit.errors import ConfigError, LaunchError, failure_text, write_failure_file
from smtoolkit.launch import report
from smtoolkit.launch.execute import TrainingJob, execute
from smtoolkit.logs import masked, set_level
from smtoolkit.paths import JobPaths
from smtoolkit.proc.supervise import ProcessSpec, run_supervised

logger = logging.getLogger(__name__)

MESSAGE_BYTES = 1024
COMMAND_NOT_FOUND = 127


def load_training_job(settings: LauncherSettings, environ: Mapping[str, str]) -> TrainingJob:
    """The job and every setting, read once; a bad one is a ConfigError naming it."""
    env = TrainingEnv.load(environ=environ)
    return TrainingJob(env, settings, EngineSettings.from_environ(environ), environ)


def run_training(settings: LauncherSettings, dry_run: bool = False, environ: Mapping[str, str] | None = None) -> int:
    """`train`: with `dry_run`, print the plan and write nothing (the caller clears the earlier outcome first)."""
    environ = os.environ if environ is None else environ
    job = load_training_job(settings, environ)
    set_level(job.env.log_level)
    logger.debug("settings: %s", masked(settings.model_dump()))
    plan = job.plan()
    if dry_run:
        sys.stdout.write(plan.render() + "\n")
        return 0
    logger.info("%s", plan.summary())
    logger.debug("launch plan: %s", plan.render())
    return execute(plan, job)


def run_processing(command: Sequence[str], settings: LauncherSettings, environ: Mapping[str, str] | None = None) -> int:
    """Run a processing container's command under the same supervision; on failure write output/message (at
    most 1 KB of valid UTF-8: the platform fails the job on anything else)."""
    environ = os.environ if environ is None else environ
    paths = JobPaths.from_env(environ)
    if not command:
        raise ConfigError.single("smtoolkit process", "no command given (expected `smtoolkit process -- CMD ARGS...`)")
    if command[0].startswith("-"):  # no command starts with a dash: a mistyped option, before any `--`
        raise ConfigError.single(
            "smtoolkit process",
            f"no such option: {command[0]} (it takes none but --help; expected `smtoolkit process -- CMD ARGS...`)",
        )
    if paths.message_file.is_file():
        paths.message_file.unlink()
        logger.info("removed %s left by an earlier run", paths.message_file)
    try:
        outcome = run_supervised(
            ProcessSpec(tuple(command), dict(environ), Path.cwd()),
            grace_period=settings.grace_period_s,
            stderr_tail_bytes=settings.stderr_tail_kib * 1024,
        )
    except LaunchError as error:  # the command cannot start: a shell's "command not found"
        logger.error("%s", failure_text(error))
        write_failure_file(paths.message_file, failure_text(error), MESSAGE_BYTES)
        return COMMAND_NOT_FOUND
    if outcome.exit_code != 0:
        message = report.outcome_message(outcome, command)
        logger.error("%s", message)
        write_failure_file(paths.message_file, message, MESSAGE_BYTES)
    return outcome.exit_code
