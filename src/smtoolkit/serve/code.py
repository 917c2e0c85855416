"""The inference code, made ready once, before the model loads and the workers fork.

SAGEMAKER_SUBMIT_DIRECTORY may be a local directory (used in place), or a tarball, a single file or an s3://
tarball, fetched into the code dir (<base>/code) with the launcher's `fetch_code`. Unset, the script is looked
for in <base>/code, then <base>/model/code (the SDK's repacked model.tar.gz). The directory that holds the
script has its requirements.txt (or package files) installed with the launcher's install steps.
"""

from __future__ import annotations

import importlib
import logging
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from smtoolkit import storage
from smtoolkit.config.launcher import LauncherSettings
from smtoolkit.config.serving import ServingSettings
from smtoolkit.paths import JobPaths
from smtoolkit.serve.handlers import locate_script
from smtoolkit.usercode.fetch import fetch_code
from smtoolkit.usercode.install import install_code_dependencies

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
class PreparedCode:
    script: Path
    code_dir: Path  # the search dir that holds the script, whose requirements were installed


def prepare_code(
    settings: ServingSettings, paths: JobPaths, launcher: LauncherSettings, environ: Mapping[str, str]
) -> PreparedCode:
    """Fetch the code if needed, find the script, install its directory's requirements.

    Raises CodeFetchError, EntryPointError or InstallError; the caller turns them into a start-up failure.
    """
    source = code_source(settings, paths)
    if source.fetch_uri is not None and source.fetch_into is not None:
        fetch_code(source.fetch_uri, source.fetch_into, environ)
    code_dir, script = locate_script(settings.program_name, source.search_dirs)
    installed = install_code_dependencies(code_dir, launcher, environ)
    if installed.env is not None:  # the warm pool env's packages win over the image's, as if installed there
        sys.path.insert(0, str(installed.env.site))
    if installed.steps:
        importlib.invalidate_caches()  # what pip just installed must be importable by the script
        logger.info("Installed the dependencies of %s", code_dir)
    return PreparedCode(script, code_dir)
