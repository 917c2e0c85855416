"""Installing the code dir's dependencies before the user's code runs: shared by `train` and `serve`.

`planned_install_steps` decides what to run (requirements.txt and/or the code dir as a package, through a
CodeArtifact index when CA_REPOSITORY_ARN is set); `run_install_steps` runs each pip command supervised (own
session, stop signals forwarded) and turns a failure, or a stop request that arrived meanwhile, into an
InstallError carrying the tail of pip's stderr.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

from smtoolkit.config.launcher import LauncherSettings
from smtoolkit.errors import InstallError
from smtoolkit.proc.signals import signal_name
from smtoolkit.proc.supervise import ProcessSpec, run_supervised
from smtoolkit.usercode import deps

logger = logging.getLogger(__name__)


def planned_install_steps(code_dir: Path, settings: LauncherSettings) -> list[deps.InstallStep]:
    """The pip commands for `code_dir` (none without requirements.txt or package files)."""
    arn = settings.ca_repository_arn
    return deps.install_steps(code_dir, index_url=deps.codeartifact_index_url(arn) if arn else None)


def run_install_step(step: deps.InstallStep, settings: LauncherSettings, environ: Mapping[str, str]) -> None:
    """Run one step with `environ` plus the step's own variables; InstallError if it fails or is stopped."""
    logger.info("%s: %s", step.description, " ".join(step.argv))
    outcome = run_supervised(
        ProcessSpec(step.argv, {**environ, **step.env}, step.cwd),
        grace_period=settings.grace_period_s,
        stderr_tail_bytes=settings.stderr_tail_kib * 1024,
    )
    if outcome.exit_code != 0:
        pip_error = outcome.stderr_tail.decode("utf-8", "replace").strip()
        raise InstallError(f"{step.description} failed with exit code {outcome.exit_code}:\n{pip_error}")
    if outcome.stopped_by is not None:
        raise InstallError(f"{step.description} was stopped by {signal_name(outcome.stopped_by)}")


def run_install_steps(
    steps: Sequence[deps.InstallStep], settings: LauncherSettings, environ: Mapping[str, str]
) -> None:
    for step in steps:
        run_install_step(step, settings, environ)


def install_code_dependencies(
    code_dir: Path, settings: LauncherSettings, environ: Mapping[str, str]
) -> list[deps.InstallStep]:
    """Plan and run the steps for `code_dir` (nothing when settings.install_requirements is off); the steps run."""
    steps = planned_install_steps(code_dir, settings) if settings.install_requirements else []
    run_install_steps(steps, settings, environ)
    return steps
