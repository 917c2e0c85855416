"""Objects under a local path or an s3:// prefix: listing, fetching, opening and putting, one client per job.

A source is listed as objects with a key relative to it: for a local directory the path below it, for a local
file its name; for `s3://bucket/prefix` (a key-name prefix, not a folder) the key with the prefix and any
following `/` removed (the object's base name when the key *is* the prefix). Keys ending in `/` (folder markers)
are skipped. Objects come sorted by key.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, BinaryIO

from smtoolkit.errors import ConfigError, LaunchError
from smtoolkit.storage import describe_error, is_s3_uri, local_path, parse_s3_uri, s3_client

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SourceObject:
    key: str  # relative to the source, '/'-separated
    uri: str  # s3://bucket/key, or a local path
    size: int


def join_uri(base: str, relative: str) -> str:
    """`base` (s3:// prefix or local dir) joined with a '/'-separated relative key."""
    if is_s3_uri(base):
        return f"{base.rstrip('/')}/{relative}"
    return str(local_path(base) / relative)


class ObjectStore:
    """Local paths and S3 objects behind one interface; the S3 client is made on first use."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = environ
        self._client: S3Client | None = None

    @property
    def client(self) -> S3Client:
        if self._client is None:
            self._client = s3_client(self._environ)
        return self._client

    def list_objects(self, uri: str) -> list[SourceObject]:
        """Every object under `uri`, sorted by key; ConfigError when there is nothing there."""
        objects = self._list_s3(uri) if is_s3_uri(uri) else _list_local(local_path(uri))
        return sorted(objects, key=lambda item: item.key)

    def _list_s3(self, uri: str) -> list[SourceObject]:
        from botocore.exceptions import BotoCoreError, ClientError

        bucket, prefix = parse_s3_uri(uri, allow_empty_key=True)
        found: list[SourceObject] = []
        try:
            for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
                for item in page.get("Contents", []):
                    key = item["Key"]
                    if key.endswith("/"):
                        continue
                    relative = key[len(prefix) :].lstrip("/") or PurePosixPath(key).name
                    found.append(SourceObject(relative, f"s3://{bucket}/{key}", int(item.get("Size", 0))))
        except (BotoCoreError, ClientError) as exc:
            raise LaunchError(f"cannot list {uri}: {describe_error(exc, uri)}") from exc
        return found

    def fetch(self, item: SourceObject, target: Path) -> None:
        """Copy or download one object to `target` (parents created)."""
        target.parent.mkdir(parents=True, exist_ok=True)
        if not is_s3_uri(item.uri):
            shutil.copyfile(item.uri, target)
            return
        from botocore.exceptions import BotoCoreError, ClientError

        bucket, key = parse_s3_uri(item.uri)
        try:
            self.client.download_file(bucket, key, str(target))
        except (BotoCoreError, ClientError) as exc:
            raise LaunchError(f"cannot download {item.uri}: {describe_error(exc, item.uri)}") from exc

    def open(self, item: SourceObject) -> BinaryIO:
        if is_s3_uri(item.uri):
            from smtoolkit.storage import open_s3_object

            return open_s3_object(item.uri, self._environ)
        return Path(item.uri).open("rb")

    def put(self, source: Path, uri: str) -> None:
        """Copy or upload one local file to `uri` (a local path or s3://bucket/key)."""
        if not is_s3_uri(uri):
            target = local_path(uri)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
            return
        from botocore.exceptions import BotoCoreError, ClientError

        bucket, key = parse_s3_uri(uri)
        try:
            self.client.upload_file(str(source), bucket, key)
        except (BotoCoreError, ClientError) as exc:
            raise LaunchError(f"cannot upload {source} to {uri}: {describe_error(exc, uri)}") from exc


def _list_local(path: Path) -> list[SourceObject]:
    if path.is_file():
        return [SourceObject(path.name, str(path), path.stat().st_size)]
    if not path.is_dir():
        raise ConfigError.single(str(path), "no such file or directory (a channel or input source)")
    return [
        SourceObject(file.relative_to(path).as_posix(), str(file), file.stat().st_size)
        for file in path.rglob("*")
        if file.is_file()
    ]
