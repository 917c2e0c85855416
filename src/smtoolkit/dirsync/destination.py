"""Where a mirrored folder's files go: an S3 prefix (boto3's transfer manager: multipart, in parallel, for big
files) or a local directory (each file copied in whole, then renamed into place)."""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from smtoolkit.atomicfile import atomic_path
from smtoolkit.storage import is_s3_uri, local_path, parse_s3_uri, s3_client

if TYPE_CHECKING:
    from boto3.s3.transfer import TransferConfig
    from mypy_boto3_s3 import S3Client

MULTIPART_THRESHOLD = 16 * 1024 * 1024
UPLOAD_THREADS = 4


class Destination(Protocol):
    uri: str

    def put(self, source: Path, key: str) -> None: ...

    def delete(self, key: str) -> None: ...


class S3Destination:
    def __init__(self, uri: str, environ: Mapping[str, str]) -> None:
        self.uri = uri
        self._bucket, prefix = parse_s3_uri(uri, allow_empty_key=True)
        self._prefix = prefix.rstrip("/")
        self._environ = environ
        self._client: S3Client | None = None
        self._config: TransferConfig | None = None

    def _key(self, key: str) -> str:
        return f"{self._prefix}/{key}" if self._prefix else key

    def _connect(self) -> tuple[S3Client, TransferConfig]:
        if self._client is None or self._config is None:
            from boto3.s3.transfer import TransferConfig

            self._client = s3_client(self._environ)
            self._config = TransferConfig(multipart_threshold=MULTIPART_THRESHOLD, max_concurrency=UPLOAD_THREADS)
        return self._client, self._config

    def put(self, source: Path, key: str) -> None:
        client, config = self._connect()
        client.upload_file(str(source), self._bucket, self._key(key), Config=config)

    def delete(self, key: str) -> None:
        client, _ = self._connect()
        client.delete_object(Bucket=self._bucket, Key=self._key(key))


class LocalDestination:
    def __init__(self, uri: str) -> None:
        self.uri = uri
        self._root = local_path(uri)

    def put(self, source: Path, key: str) -> None:
        with atomic_path(self._root / key) as partial:
            shutil.copyfile(source, partial)

    def delete(self, key: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            (self._root / key).unlink()


def destination_for(uri: str, environ: Mapping[str, str]) -> Destination:
    """`s3://bucket/prefix`, `file:///dir` or a local path."""
    return S3Destination(uri, environ) if is_s3_uri(uri) else LocalDestination(uri)
