"""Where a transform job reads and writes: local folders/files, s3:// prefixes, manifest files.

Inputs are listed recursively (relative paths kept) and opened as streams (gzip decompressed on the fly);
nothing reads a whole object into memory.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from smtoolkit.errors import ConfigError, SmtoolkitError
from smtoolkit.storage import describe_error, is_s3_uri, local_path, open_s3_object, parse_s3_uri, s3_client

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

READ_BUFFER = 1024 * 1024


@dataclass(frozen=True)
class InputFile:
    """One input: where it is (a local path or s3:// URI) and its path relative to the input root."""

    uri: str
    relative: str
    size: int | None = None


def _relative_to_prefix_dir(key: str, prefix: str) -> str:
    """A key relative to the prefix's "folder": `data/in` + `data/in/a.csv` -> `in/a.csv`,
    `data/in/` + `data/in/a.csv` -> `a.csv`, and a prefix naming one object gives its base name."""
    return key[prefix.rfind("/") + 1 :]


def _list_s3(uri: str, client: S3Client) -> list[InputFile]:
    bucket, prefix = parse_s3_uri(uri, allow_empty_key=True)
    files = []
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            key = item["Key"]
            if not key.endswith("/"):
                files.append(InputFile(f"s3://{bucket}/{key}", _relative_to_prefix_dir(key, prefix), item["Size"]))
    return files


def _list_local(uri: str) -> list[InputFile]:
    root = local_path(uri)
    if root.is_file():
        return [InputFile(str(root), root.name, root.stat().st_size)]
    if not root.is_dir():
        raise ConfigError.single(uri, "no such file or folder", "TransformInput.DataSource.S3DataSource.S3Uri")
    paths = sorted(path for path in root.rglob("*") if path.is_file())
    return [InputFile(str(path), path.relative_to(root).as_posix(), path.stat().st_size) for path in paths]


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
    if not is_s3_uri(uri):
        return _list_local(uri)
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return _list_s3(uri, s3_client(environ))
    except (BotoCoreError, ClientError) as exc:
        raise SmtoolkitError(f"cannot list {uri}: {describe_error(exc, uri)}") from exc


def open_input(file: InputFile, gzipped: bool, environ: Mapping[str, str]) -> BinaryIO:
    """A buffered stream of the file's bytes, decompressed when `gzipped`. Close it when done."""
    if is_s3_uri(file.uri):
        raw: BinaryIO = open_s3_object(file.uri, environ)
    else:
        try:
            raw = Path(file.uri).open("rb", buffering=READ_BUFFER)  # noqa: SIM115 - the caller closes it
        except OSError as exc:
            raise SmtoolkitError(f"{file.uri}: cannot be read: {exc.strerror}") from None
    if not gzipped:
        return raw
    return gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[return-value]  # a BufferedIOBase


def close_input(stream: BinaryIO) -> None:
    """Close a stream from open_input (a GzipFile does not close the stream it reads)."""
    inner = getattr(stream, "fileobj", None) if isinstance(stream, gzip.GzipFile) else None
    stream.close()
    if inner is not None:
        inner.close()
