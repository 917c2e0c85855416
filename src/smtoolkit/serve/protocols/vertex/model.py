"""The model artifacts at AIP_STORAGE_URI: a local directory (served in place), a local tarball, or gs://.

gs:// goes through the Google Cloud Storage client, an optional extra (`pip install 'smtoolkit[gcs]'`) imported
only then. A gs:// URI names one object or a folder of them; objects that are tar archives (.tar, .tar.gz,
.tgz) are streamed into the same safe extraction as the user's code, the others are copied as they are.
"""

from __future__ import annotations

import logging
import posixpath
import tarfile
from pathlib import Path
from typing import Any

from smtoolkit import storage
from smtoolkit.errors import ConfigError, LaunchError

logger = logging.getLogger(__name__)

GS_SCHEME = "gs://"
VARIABLE = "AIP_STORAGE_URI"
ARCHIVE_SUFFIXES = (".tar", ".tar.gz", ".tgz")


def fetch_model(storage_uri: str | None, model_dir: Path) -> Path:
    """The directory to load the model from: a local directory as is, else `model_dir` filled from the URI."""
    if not storage_uri:
        return model_dir
    if storage_uri[: len(GS_SCHEME)].lower() == GS_SCHEME:
        count = _fetch_gcs(storage_uri, model_dir)
        logger.info("Fetched the model from %s into %s: %d objects", storage_uri, model_dir, count)
        return model_dir
    if "://" in storage_uri and not storage_uri.lower().startswith(storage.FILE_SCHEME):
        raise ConfigError.single("environment", f"got {storage_uri!r}: expected gs://, file:// or a path", VARIABLE)
    source = storage.local_path(storage_uri)
    if source.is_dir():
        return source
    if source.is_file() and tarfile.is_tarfile(source):
        with source.open("rb") as archive:
            _safe_extract(archive, model_dir, storage_uri)
        return model_dir
    problem = "not a directory or tar archive" if source.exists() else "no such file or directory"
    raise ConfigError.single("environment", f"got {storage_uri!r}: {problem}", VARIABLE)


def _safe_extract(fileobj: Any, model_dir: Path, source: str) -> int:
    from smtoolkit.usercode.fetch import safe_extract

    return safe_extract(fileobj, model_dir, source=source)


def _gcs_client() -> Any:
    try:
        from google.cloud import storage as gcs
    except ImportError:
        raise ConfigError.single(
            "environment",
            "a gs:// model needs the Google Cloud Storage client: pip install 'smtoolkit[gcs]'",
            VARIABLE,
        ) from None
    return gcs.Client()


def _fetch_gcs(uri: str, model_dir: Path) -> int:
    bucket, _, prefix = uri[len(GS_SCHEME) :].partition("/")
    if not bucket:
        raise ConfigError.single("environment", f"got {uri!r}: expected gs://bucket/path", VARIABLE)
    client = _gcs_client()
    try:
        blobs = list(client.list_blobs(bucket, prefix=prefix))
        exact = [blob for blob in blobs if blob.name == prefix]  # one object, else a folder of them
        folder = posixpath.dirname(prefix) if exact else prefix.rstrip("/")
        base = f"{folder}/" if folder else ""
        chosen = exact or [blob for blob in blobs if blob.name.startswith(base) and not blob.name.endswith("/")]
        if not chosen:
            raise LaunchError(f"{VARIABLE}={uri}: no objects there")
        for blob in chosen:
            _fetch_blob(blob, blob.name[len(base) :], model_dir, f"gs://{bucket}/{blob.name}")
    except LaunchError:
        raise
    except Exception as exc:  # the client's own errors: credentials, permissions, network
        raise LaunchError(f"{VARIABLE}={uri}: cannot read the model: {type(exc).__name__}: {exc}") from exc
    return len(chosen)


def _fetch_blob(blob: Any, relative: str, model_dir: Path, source: str) -> None:
    if relative.endswith(ARCHIVE_SUFFIXES):
        with blob.open("rb") as stream:
            _safe_extract(stream, model_dir, source)
        return
    parts = relative.split("/")
    if not relative or relative.startswith("/") or ".." in parts:
        raise LaunchError(f"{source}: refusing an object name that leaves the model directory")
    target = model_dir.joinpath(*parts)
    target.parent.mkdir(parents=True, exist_ok=True)
    blob.download_to_filename(str(target))
