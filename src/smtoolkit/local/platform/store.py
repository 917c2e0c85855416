"""Objects under a local path or an s3:// prefix for a local job: listing (storage.list_objects' one rule),
fetching, opening and putting, with one S3 client per job."""

from __future__ import annotations

import logging
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from smtoolkit.errors import StorageError
from smtoolkit.storage import (
    StoredObject,
    describe_error,
    is_s3_uri,
    list_objects,
    open_s3_object,
    parse_s3_uri,
    put_file,
    s3_client,
)

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

log = logging.getLogger(__name__)


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

    def list_objects(self, uri: str) -> list[StoredObject]:
        """Every object under `uri`, sorted by key; ConfigError when there is nothing there."""
        return list_objects(uri, self.client if is_s3_uri(uri) else None)

    def fetch(self, item: StoredObject, target: Path) -> None:
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
            raise StorageError(f"cannot download {item.uri}: {describe_error(exc, item.uri)}") from exc

    def open(self, item: StoredObject) -> BinaryIO:
        if is_s3_uri(item.uri):
            return open_s3_object(item.uri, self._environ)
        return Path(item.uri).open("rb")

    def put(self, source: Path, uri: str) -> None:
        """Copy or upload one local file to `uri` (a local path or s3://bucket/key); StorageError on failure."""
        put_file(source, uri, self.client if is_s3_uri(uri) else None)
