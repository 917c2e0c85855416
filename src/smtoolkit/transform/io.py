"""Where a transform job reads and writes: local folders/files, s3:// prefixes, manifest files.

Inputs are listed recursively by storage.list_objects (its one rule for relative paths) and opened as streams
(gzip decompressed on the fly); nothing reads a whole object into memory.
"""

from __future__ import annotations

import gzip
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from smtoolkit.errors import ConfigError, Problem, StorageError
from smtoolkit.storage import is_s3_uri, list_objects, local_path, open_s3_object, writable_problem

logger = logging.getLogger(__name__)

if TYPE_CHECKING:
    from smtoolkit.transform.request import TransformRequest

READ_BUFFER = 1024 * 1024


@dataclass(frozen=True)
class InputFile:
    """One input: where it is (a local path or s3:// URI) and its path relative to the input root."""

    uri: str
    relative: str
    size: int | None = None


def _read_manifest(uri: str, environ: Mapping[str, str]) -> list[InputFile]:
    """`[{"prefix": "s3://bucket/p/"}, "key1", "sub/key2", ...]`: each file is prefix + key, relative path = key."""
    if is_s3_uri(uri):
        with open_s3_object(uri, environ) as stream:
            text = stream.read()
    else:
        try:
            text = local_path(uri).read_bytes()
        except OSError as exc:
            raise ConfigError.single(uri, f"cannot read the manifest: {exc.strerror}") from None
    try:
        entries = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError.single(uri, f"the manifest is not valid JSON: {exc}") from None
    if not isinstance(entries, list) or not entries or not isinstance(entries[0], dict):
        raise ConfigError.single(uri, 'expected a JSON array [{"prefix": "s3://bucket/prefix/"}, "key", ...]')
    prefix = entries[0].get("prefix")
    if not isinstance(prefix, str) or not prefix:
        raise ConfigError.single(uri, "the first element needs a string prefix", "[0].prefix")
    files = []
    for index, key in enumerate(entries[1:], start=1):
        if not isinstance(key, str) or not key or key.startswith("/") or ".." in key.split("/"):
            raise ConfigError.single(uri, f"expected a relative key, got {key!r}", f"[{index}]")
        files.append(InputFile(prefix + key if is_s3_uri(prefix) else str(local_path(prefix) / key), key))
    return files


def list_inputs(uri: str, manifest: bool, environ: Mapping[str, str]) -> list[InputFile]:
    """The input files in order (sorted by key or path; a manifest's own order)."""
    if manifest:
        return _read_manifest(uri, environ)
    try:
        listed = list_objects(uri, environ=environ)
    except ConfigError as exc:  # name the request field that holds the URI
        raise ConfigError.single(uri, "no such file or folder", "TransformInput.DataSource.S3DataSource.S3Uri") from exc
    return [InputFile(item.uri, item.key, item.size) for item in listed]


def open_input(file: InputFile, gzipped: bool, environ: Mapping[str, str]) -> BinaryIO:
    """A buffered stream of the file's bytes, decompressed when `gzipped`. Close it when done."""
    if is_s3_uri(file.uri):
        raw: BinaryIO = open_s3_object(file.uri, environ)
    else:
        try:
            raw = Path(file.uri).open("rb", buffering=READ_BUFFER)  # noqa: SIM115 - the caller closes it
        except OSError as exc:
            raise StorageError(f"{file.uri}: cannot be read: {exc.strerror}") from None
    if not gzipped:
        return raw
    return gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[return-value]  # a BufferedIOBase


def close_input(stream: BinaryIO) -> None:
    """Close a stream from open_input (a GzipFile does not close the stream it reads)."""
    inner = getattr(stream, "fileobj", None) if isinstance(stream, gzip.GzipFile) else None
    stream.close()
    if inner is not None:
        inner.close()


def warn_replaced(uri: str) -> None:
    """A warning when a local output location already holds files that this run's outputs may replace."""
    if not is_s3_uri(uri) and local_path(uri).is_dir() and any(local_path(uri).iterdir()):
        logger.warning("output path %s already holds files: outputs of the same name are replaced", uri)


def input_problems(request: TransformRequest, input_flag: str) -> list[Problem]:
    """A local input that does not exist (what a dry run can check: it writes nothing)."""
    source = request.TransformInput.DataSource.S3DataSource.S3Uri
    if is_s3_uri(source) or local_path(source).exists():
        return []
    return [
        Problem(source, "no such file or directory", f"{input_flag} (TransformInput.DataSource.S3DataSource.S3Uri)")
    ]


def location_problems(
    request: TransformRequest, environ: Mapping[str, str], input_flag: str, output_flag: str
) -> list[Problem]:
    """A local input that does not exist, an output location that cannot be written (smtoolkit.storage's
    writable_problem): checked before a model server starts. Each names the flag and the request field."""
    problems = input_problems(request, input_flag)
    output = request.TransformOutput.S3OutputPath
    problem = writable_problem(output, environ)
    if problem:
        problems.append(Problem(output, problem, f"{output_flag} (TransformOutput.S3OutputPath)"))
    return problems
