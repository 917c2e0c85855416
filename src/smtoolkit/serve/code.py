"""The inference code, made ready once, before the model loads and the workers fork.

`plan_code` decides (pure: it reads names only), `prepare_planned` does it. SAGEMAKER_SUBMIT_DIRECTORY may be
a local directory (used in place), or a tarball, a single file or an s3://
tarball, fetched into the code dir (<base>/code) with the launcher's `fetch_code`. Unset, the script is looked
for in <base>/code, then <base>/model/code (the SDK's repacked model.tar.gz). The directory that holds the
script has its requirements.txt (or package files) installed with the launcher's install steps.
"""

from __future__ import annotations

import importlib
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from smtoolkit import storage
from smtoolkit.config.launcher import LauncherSettings
from smtoolkit.config.serving import ServingSettings
from smtoolkit.paths import JobPaths
from smtoolkit.serve.handlers import locate_script
from smtoolkit.usercode.deps import CodeArtifactRepository, InstallStep
from smtoolkit.usercode.install import import_paths, install_planned, install_steps, planned_env
from smtoolkit.usercode.sitedirs import add_site_dir
from smtoolkit.usercode.warmpool import WarmEnv

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CodeSource:
    """Where the script is looked for, in order, and what must be fetched into `fetch_into` first."""

    search_dirs: tuple[Path, ...]
    fetch_uri: str | None = None
    fetch_into: Path | None = None


def code_source(settings: ServingSettings, paths: JobPaths) -> CodeSource:
    """Where the code comes from (reads no file but a directory check of a local SUBMIT_DIRECTORY)."""
    uri = settings.submit_directory
    if not uri:
        return CodeSource((paths.code_dir, paths.model_code_dir))
    is_local = "://" not in uri or uri.lower().startswith(storage.FILE_SCHEME)
    if is_local and storage.local_path(uri).is_dir():
        return CodeSource((storage.local_path(uri), paths.model_code_dir))
    return CodeSource((paths.code_dir, paths.model_code_dir), fetch_uri=uri, fetch_into=paths.code_dir)


def has_endpoint_code(settings: ServingSettings, paths: JobPaths) -> bool:
    """Whether there is an endpoint script to prepare: a multi-model endpoint may have none (each model
    then brings its own code/inference.py). A program or code location that was set always counts."""
    source = code_source(settings, paths)
    if settings.program or source.fetch_uri:
        return True
    return any((directory / settings.program_name).is_file() for directory in source.search_dirs)


@dataclass(frozen=True)
class CodePlan:
    """The code `serve` runs: where it comes from, its script and the steps installing its dependencies. Fetched
    code's script and steps are None until it is fetched (its files are unknown before)."""

    source: CodeSource
    script: Path | None
    install: tuple[InstallStep, ...] | None
    warm_env: WarmEnv | None = None  # requirements.txt's env in the warm pool dir: reused, or installed into
    codeartifact_arn: str | None = None  # pip's index, logged in to when installing
    code_dir: Path | None = None  # the search dir that holds the script, whose dependencies are installed


def plan_code(
    settings: ServingSettings,
    paths: JobPaths,
    launcher: LauncherSettings,
    environ: Mapping[str, str],
    fetched: bool = False,
) -> CodePlan:
    """What prepare_planned does; EntryPointError when code already here has no script, ConfigError for a
    malformed CodeArtifact ARN. `fetched`: the code has been fetched into the code dir already."""
    source = code_source(settings, paths)
    arn = launcher.ca_repository_arn
    if arn:
        CodeArtifactRepository.from_arn(arn)  # a malformed ARN is a configuration error before anything runs
    if fetched:
        source = CodeSource(source.search_dirs)
    if source.fetch_uri is not None:
        return CodePlan(source, None, None if launcher.install_requirements else (), None, arn)
    code_dir, script = locate_script(settings.program_name, source.search_dirs)
    if not launcher.install_requirements:
        return CodePlan(source, script, (), None, None, code_dir)
    warm_env = planned_env(code_dir, environ)
    steps = tuple(install_steps(code_dir, environ, warm_env))
    return CodePlan(source, script, steps, warm_env, arn if steps else None, code_dir)


@dataclass(frozen=True)
class PreparedCode:
    script: Path
    code_dir: Path  # the search dir that holds the script, whose requirements were installed


def prepare_code(
    settings: ServingSettings, paths: JobPaths, launcher: LauncherSettings, environ: Mapping[str, str]
) -> PreparedCode:
    """Fetch the code if needed, find the script, install its directory's requirements."""
    return prepare_planned(plan_code(settings, paths, launcher, environ), settings, paths, launcher, environ)


def prepare_planned(
    plan: CodePlan, settings: ServingSettings, paths: JobPaths, launcher: LauncherSettings, environ: Mapping[str, str]
) -> PreparedCode:
    """Do what `plan` says: fetch the code (then plan again from its files), install its dependencies.

    Raises CodeFetchError, EntryPointError or InstallError; the caller turns them into a start-up failure.
    """
    if plan.source.fetch_uri is not None and plan.source.fetch_into is not None:
        from smtoolkit.usercode.fetch import fetch_code  # only code that is fetched pays for tarfile and storage

        fetch_code(plan.source.fetch_uri, plan.source.fetch_into, environ)
        plan = plan_code(settings, paths, launcher, environ, fetched=True)
    assert plan.script is not None and plan.code_dir is not None
    install_planned(plan.install or (), plan.warm_env, launcher, environ)
    if plan.warm_env is not None:  # the warm pool env's packages win over the image's, as if installed there
        add_site_dir(str(plan.warm_env.site))
        # and in the Python processes the script starts, as train's user process gets it
        os.environ.update(import_paths(plan.warm_env, os.environ, plan.code_dir))
    if plan.install:
        importlib.invalidate_caches()  # what pip just installed must be importable by the script
        logger.info("Installed the dependencies of %s", plan.code_dir)
    return PreparedCode(plan.script, plan.code_dir)
