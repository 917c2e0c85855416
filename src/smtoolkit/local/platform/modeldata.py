"""The model and its inference code, put into the host's tree before `serve` starts, as the platform does.

Model data (the spec's Model.PrimaryContainer) goes to `<tree>/model`:
- ModelDataUrl: a model.tar.gz (gzip or plain tar, told by content), local or s3://, streamed through the
  launcher's safe extractor (members escaping the model dir, devices and FIFOs are refused). A local directory is
  copied as it is (links kept as links): a local extension.
- ModelDataSource.S3DataSource: CompressionType Gzip is a tarball as above; None copies the objects under the
  S3Prefix (or the one S3Object), keys relative to it, as the platform does for uncompressed models.
- neither: the model dir is left empty (a model whose code builds or downloads it).

The inference code, SAGEMAKER_SUBMIT_DIRECTORY (the job's Environment wins over the model's):
- unset: nothing to do; `serve` looks in `<tree>/code`, then `<tree>/model/code` (where the SDK repacks it);
- a platform path (`/opt/ml/...`): the same path in the host's tree (`/opt/ml/model/code` -> `<tree>/model/code`);
- a local directory or tarball, or an s3:// tarball: fetched into `<tree>/code` with the launcher's `fetch_code`.
The server is then given the local directory (or nothing) in SAGEMAKER_SUBMIT_DIRECTORY.
"""

from __future__ import annotations

import logging
import shutil
import tarfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from smtoolkit.errors import ConfigError
from smtoolkit.local.platform.store import ObjectStore
from smtoolkit.local.platform.tree import in_tree
from smtoolkit.local.spec.transform import SUBMIT_DIRECTORY_VARIABLE, ModelContainer
from smtoolkit.paths import DEFAULT_BASE_DIR, JobPaths
from smtoolkit.storage import is_s3_uri, local_path, open_s3_object
from smtoolkit.usercode.fetch import fetch_code, safe_extract

log = logging.getLogger(__name__)

MODEL_DATA_FIELD = "Model.PrimaryContainer.ModelDataUrl"


@dataclass(frozen=True)
class StagedModel:
    source: str | None  # where the model data came from
    files: int  # files and links written into the model dir
    code_dir: Path | None  # the SAGEMAKER_SUBMIT_DIRECTORY given to the server; None: serve's own search


def _extract_tarball(uri: str, target: Path, environ: Mapping[str, str]) -> int:
    if is_s3_uri(uri):
        with open_s3_object(uri, environ) as body:
            return safe_extract(body, target, source=uri)
    path = local_path(uri)
    if not path.is_file() or not tarfile.is_tarfile(path):
        problem = "is not a tar archive (a model.tar.gz)" if path.is_file() else "no such file or directory"
        raise ConfigError.single(uri, problem, MODEL_DATA_FIELD)
    with path.open("rb") as archive:
        return safe_extract(archive, target, source=uri)


def _copy_directory(source: Path, target: Path) -> int:
    shutil.copytree(source, target, symlinks=True, dirs_exist_ok=True)
    return sum(1 for path in target.rglob("*") if not path.is_dir() or path.is_symlink())


def _copy_objects(store: ObjectStore, uri: str, target: Path) -> int:
    objects = store.list_objects(uri)
    for item in objects:
        store.fetch(item, target / item.key)
    return len(objects)


def stage_model_data(
    container: ModelContainer, paths: JobPaths, store: ObjectStore, environ: Mapping[str, str]
) -> tuple[str | None, int]:
    """Put the model into `paths.model_dir`; (its source, files written)."""
    target = paths.model_dir
    target.mkdir(parents=True, exist_ok=True)
    if container.model_data_source is not None:
        source = container.model_data_source.s3_data_source
        if source.compression_type == "Gzip":
            return source.s3_uri, _extract_tarball(source.s3_uri, target, environ)
        return source.s3_uri, _copy_objects(store, source.s3_uri, target)
    uri = container.model_data_url
    if uri is None:
        log.info("the model has no model data: %s is left empty", target)
        return None, 0
    if not is_s3_uri(uri) and local_path(uri).is_dir():
        return uri, _copy_directory(local_path(uri), target)
    return uri, _extract_tarball(uri, target, environ)


def in_platform_tree(submit_directory: str) -> bool:
    """A platform path (`/opt/ml/model/code`): the code is already in the host's tree once the model is there."""
    return submit_directory == str(DEFAULT_BASE_DIR) or submit_directory.startswith(f"{DEFAULT_BASE_DIR}/")


def planned_code_dir(submit_directory: str | None, paths: JobPaths) -> Path | None:
    """Where the server's code will be (its SAGEMAKER_SUBMIT_DIRECTORY), decided without touching anything."""
    if not submit_directory:
        return None
    return in_tree(submit_directory, paths) if in_platform_tree(submit_directory) else paths.code_dir


def stage_code(submit_directory: str | None, paths: JobPaths, environ: Mapping[str, str]) -> Path | None:
    """The local code dir for the server's SAGEMAKER_SUBMIT_DIRECTORY (None: leave it unset)."""
    code_dir = planned_code_dir(submit_directory, paths)
    if not submit_directory or code_dir is None:
        return None
    if in_platform_tree(submit_directory):
        if not code_dir.is_dir():
            raise ConfigError.single(
                "environment",
                f"{submit_directory} ({code_dir} here) is not a directory; does the model hold the code?",
                SUBMIT_DIRECTORY_VARIABLE,
            )
        return code_dir
    fetch_code(submit_directory, code_dir, environ)
    return code_dir


def stage_model(
    container: ModelContainer, job_environment: Mapping[str, str], paths: JobPaths, environ: Mapping[str, str]
) -> StagedModel:
    """The model data into `<tree>/model` and the inference code where the server will look for it."""
    source, files = stage_model_data(container, paths, ObjectStore(environ), environ)
    log.info("model data: %d files from %s into %s", files, source or "(none)", paths.model_dir)
    return StagedModel(source, files, stage_code(submit_directory(container, job_environment), paths, environ))


def submit_directory(container: ModelContainer, job_environment: Mapping[str, str]) -> str | None:
    """SAGEMAKER_SUBMIT_DIRECTORY: the job's Environment wins over the model's."""
    return job_environment.get(SUBMIT_DIRECTORY_VARIABLE) or container.environment.get(SUBMIT_DIRECTORY_VARIABLE)
