"""Installing the code dir's dependencies before the user's code runs: shared by `train` and `serve`.

`planned_install_steps` decides what to run (requirements.txt and/or the code dir as a package, through a
CodeArtifact index when CA_REPOSITORY_ARN is set, with pip's cache in the warm pool directory when there is one);
`run_install_steps` runs each pip command supervised (own session, stop signals forwarded) and turns a failure,
or a stop request that arrived meanwhile, into an InstallError carrying the tail of pip's stderr. A
requirements.txt that a warm pool record shows as still installed is not installed again (usercode.warmpool).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path

from smtoolkit.config.launcher import LauncherSettings
from smtoolkit.errors import InstallError
from smtoolkit.proc.signals import signal_name
from smtoolkit.proc.supervise import ProcessSpec, run_supervised
from smtoolkit.usercode import deps, warmpool

logger = logging.getLogger(__name__)


def planned_install_steps(
    code_dir: Path, settings: LauncherSettings, environ: Mapping[str, str] | None = None
) -> list[deps.InstallStep]:
    """The pip commands for `code_dir` (none without requirements.txt or package files), logged in to CodeArtifact."""
    return with_index(install_steps(code_dir, environ or {}), settings.ca_repository_arn)


def install_steps(code_dir: Path, environ: Mapping[str, str]) -> list[deps.InstallStep]:
    """The pip commands for `code_dir`, with pip's cache in the warm pool directory when there is one; reads the
    code dir's names only (a plan's install steps), no login, no network."""
    cache = warmpool.warm_pool_cache(environ)
    return deps.install_steps(code_dir, cache_dir=cache.pip_cache_dir if cache else None)


def with_index(steps: Sequence[deps.InstallStep], codeartifact_arn: str | None) -> list[deps.InstallStep]:
    """The steps with pip's index set to the CodeArtifact repository (a login: network) when there is one."""
    if not steps or not codeartifact_arn:
        return list(steps)
    index = {"PIP_INDEX_URL": deps.codeartifact_index_url(codeartifact_arn)}
    return [replace(step, env={**step.env, **index}) for step in steps]


def reusable_install_record(code_dir: Path, environ: Mapping[str, str]) -> Path | None:
    """The warm pool record for code_dir's requirements.txt alone (a code dir that is a package installs its own
    changing code, so it always runs), or None when there is no warm pool or the install cannot be reused."""
    cache = warmpool.warm_pool_cache(environ)
    if cache is None or any((code_dir / name).is_file() for name in deps.PACKAGE_FILES):
        return None
    key = warmpool.requirements_key(code_dir, environ)
    return cache.record_path(key) if key else None


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
    """Plan and run the steps for `code_dir` (nothing when settings.install_requirements is off, or when a warm pool
    record shows the same requirements still installed); the steps run."""
    if not settings.install_requirements:
        return []
    steps = install_steps(code_dir, environ)
    return steps if install_planned(code_dir, steps, settings, environ) else []


def install_planned(
    code_dir: Path, steps: Sequence[deps.InstallStep], settings: LauncherSettings, environ: Mapping[str, str]
) -> bool:
    """Run the steps planned for `code_dir` (logged in to CodeArtifact), unless a warm pool record shows the same
    requirements still installed; whether they ran."""
    if not steps:
        return False
    record = reusable_install_record(code_dir, environ)
    if record is not None and warmpool.still_installed(record):
        logger.info("requirements.txt already installed on this warm instance (%s): not installing again", record)
        return False
    before = warmpool.installed_distributions() if record is not None else {}
    run_install_steps(with_index(steps, settings.ca_repository_arn), settings, environ)
    if record is not None:
        warmpool.write_record(record, before, warmpool.installed_distributions())
    return True
