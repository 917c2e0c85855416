"""Installing the code dir's dependencies before the user's code runs: shared by `train` and `serve`.

`planned_install_steps` decides what to run (requirements.txt and/or the code dir as a package, through a
CodeArtifact index when CA_REPOSITORY_ARN is set, with pip's cache in the warm pool directory when there is one);
`run_install_steps` runs each pip command supervised (own session, stop signals forwarded) and turns a failure,
or a stop request that arrived meanwhile, into an InstallError carrying the tail of pip's stderr. With a warm pool,
requirements.txt installs into an env of the warm pool dir, or reuses it (usercode.warmpool, usercode.warmenv).
A code dir that is a package is built in a temporary copy: pip and setuptools never write into the user's folder.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from smtoolkit.config.launcher import LauncherSettings
from smtoolkit.errors import InstallError
from smtoolkit.proc.signals import signal_name
from smtoolkit.proc.supervise import ProcessSpec, run_supervised
from smtoolkit.usercode import deps, sitedirs, warmenv, warmpool

logger = logging.getLogger(__name__)

AFTER_FETCH = "decided from the fetched code"  # what a plan says of install steps before the code is fetched


@dataclass(frozen=True)
class CodeInstall:
    steps: list[deps.InstallStep]  # the steps that ran
    env: warmpool.WarmEnv | None  # the warm pool env the code imports from, installed or reused


def planned_install_steps(
    code_dir: Path, settings: LauncherSettings, environ: Mapping[str, str] | None = None
) -> list[deps.InstallStep]:
    """The pip commands for `code_dir` (none without requirements.txt or package files), logged in to CodeArtifact."""
    environ = environ or {}
    return with_index(install_steps(code_dir, environ, planned_env(code_dir, environ)), settings.ca_repository_arn)


def planned_env(code_dir: Path, environ: Mapping[str, str]) -> warmpool.WarmEnv | None:
    """The warm pool env for code_dir's requirements.txt (reused or to install), None without one."""
    return warmpool.planned_env(code_dir, environ, deps.is_package(code_dir))


def install_steps(
    code_dir: Path, environ: Mapping[str, str], env: warmpool.WarmEnv | None = None
) -> list[deps.InstallStep]:
    """The pip commands for `code_dir`, with pip's cache in the warm pool directory when there is one, none when
    `env` is reused; reads the code dir's names only (a plan's install steps), no login, no network."""
    if env is not None and env.reuse:
        return []
    cache = warmpool.warm_pool_cache(environ)
    prefix = env.directory if env is not None else None
    return deps.install_steps(code_dir, cache_dir=cache.pip_cache_dir if cache else None, prefix=prefix)


def with_index(steps: Sequence[deps.InstallStep], codeartifact_arn: str | None) -> list[deps.InstallStep]:
    """The steps with pip's index set to the CodeArtifact repository (a login: network) when there is one."""
    if not steps or not codeartifact_arn:
        return list(steps)
    index = {"PIP_INDEX_URL": deps.codeartifact_index_url(codeartifact_arn)}
    return [replace(step, env={**step.env, **index}) for step in steps]


def run_install_step(step: deps.InstallStep, settings: LauncherSettings, environ: Mapping[str, str]) -> None:
    """Run one step with `environ` plus the step's own variables; InstallError if it fails or is stopped."""
    if step.into is None:
        return _run_pip(step, settings, environ)

    def install_into(prefix: Path) -> None:
        _run_pip(_retarget(step, prefix), settings, environ)

    try:
        warmenv.install_env(warmpool.WarmEnv(step.into, reuse=False), install_into)
    except OSError as error:  # costs the next job its reuse, never this job: install as without a warm pool
        logger.warning("cannot install into the warm pool env %s (%s): installing as usual", step.into, error)
        _run_pip(_retarget(step, None), settings, environ)


def _retarget(step: deps.InstallStep, prefix: Path | None) -> deps.InstallStep:
    """The step with its `--prefix` pointing at `prefix`, or without one."""
    index = step.argv.index("--prefix")
    replacement = ("--prefix", str(prefix)) if prefix is not None else ()
    return replace(step, argv=(*step.argv[:index], *replacement, *step.argv[index + 2 :]), into=None)


def _run_pip(step: deps.InstallStep, settings: LauncherSettings, environ: Mapping[str, str]) -> None:
    if step.from_copy:  # setuptools builds in-tree (build/, *.egg-info): never in the user's folder
        with tempfile.TemporaryDirectory(prefix="smtoolkit-build-") as scratch:
            copy = Path(scratch) / step.cwd.name
            shutil.copytree(step.cwd, copy, symlinks=True)
            _run_pip(replace(step, cwd=copy, from_copy=False), settings, environ)
        return
    logger.info("%s: %s", step.description, " ".join(step.argv))
    tail_bytes = settings.stderr_tail_kib * 1024
    if threading.current_thread() is not threading.main_thread():
        _run_in_thread(step, environ, tail_bytes)
        return
    outcome = run_supervised(
        ProcessSpec(step.argv, {**environ, **step.env}, step.cwd),
        grace_period=settings.grace_period_s,
        stderr_tail_bytes=tail_bytes,
    )
    if outcome.exit_code != 0:
        _failed(step, outcome.exit_code, outcome.stderr_tail)
    if outcome.stopped_by is not None:
        raise InstallError(f"{step.description} was stopped by {signal_name(outcome.stopped_by)}")


def _failed(step: deps.InstallStep, exit_code: int, stderr_tail: bytes) -> None:
    pip_error = stderr_tail.decode("utf-8", "replace").strip()
    raise InstallError(f"{step.description} failed with exit code {exit_code}:\n{pip_error}")


def _run_in_thread(step: deps.InstallStep, environ: Mapping[str, str], tail_bytes: int) -> None:
    """A step run from a server's request thread (a multi-model load): only the main thread may trap signals,
    and the server owns them there, so pip runs as a plain child process."""
    done = subprocess.run(step.argv, env={**environ, **step.env}, cwd=step.cwd, stderr=subprocess.PIPE, check=False)
    if done.returncode != 0:
        _failed(step, done.returncode, done.stderr[-tail_bytes:])


def run_install_steps(
    steps: Sequence[deps.InstallStep], settings: LauncherSettings, environ: Mapping[str, str]
) -> None:
    for step in steps:
        run_install_step(step, settings, environ)


def install_code_dependencies(code_dir: Path, settings: LauncherSettings, environ: Mapping[str, str]) -> CodeInstall:
    """Plan and run the steps for `code_dir` (nothing when settings.install_requirements is off, or when a warm pool
    env with the same requirements is reused)."""
    if not settings.install_requirements:
        return CodeInstall([], None)
    env = planned_env(code_dir, environ)
    steps = install_steps(code_dir, environ, env)
    install_planned(steps, env, settings, environ)
    return CodeInstall(steps, env)


def install_planned(
    steps: Sequence[deps.InstallStep],
    env: warmpool.WarmEnv | None,
    settings: LauncherSettings,
    environ: Mapping[str, str],
) -> None:
    """Run the planned steps (logged in to CodeArtifact); a reused warm pool env is only marked as used."""
    if env is not None and env.reuse:
        logger.info("requirements.txt already installed on this warm instance: using %s", env.directory)
        warmenv.mark_used(env)
    run_install_steps(with_index(steps, settings.ca_repository_arn), settings, environ)


def import_paths(env: warmpool.WarmEnv | None, environ: Mapping[str, str], code_dir: Path) -> dict[str, str]:
    """The user process's PYTHONPATH (code_dir first) and, with a warm pool env, what makes it found first (before
    the image's packages, as a normal install would win): its site/ after code_dir, with its .pth files processed
    at start-up (usercode.sitedirs: the hook goes first, so it also runs before a code dir's own sitecustomize),
    and its bin/ first on PATH."""
    inherited = [environ["PYTHONPATH"]] if environ.get("PYTHONPATH") else []
    if env is None:
        return {"PYTHONPATH": os.pathsep.join([str(code_dir), *inherited])}
    path = [str(env.bin), *([environ["PATH"]] if environ.get("PATH") else [])]
    return {
        "PYTHONPATH": os.pathsep.join([sitedirs.HOOK_DIR, str(code_dir), str(env.site), *inherited]),
        "PATH": os.pathsep.join(path),
        sitedirs.SITE_DIRS_VARIABLE: str(env.site),
    }
