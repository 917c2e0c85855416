"""Where a mirrored folder's files go: an S3 prefix or a local directory, each file put there by storage.put_file
(S3: multipart and in parallel for big files; local: copied whole, then renamed into place)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from smtoolkit.storage import delete_file, is_s3_uri, join_uri, parse_s3_uri, put_file, s3_client

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


class Destination:
    """`put(source, key)` and `delete(key)` below `uri`; the S3 client is made on first use."""

    def __init__(self, uri: str, environ: Mapping[str, str]) -> None:
        if is_s3_uri(uri):
            parse_s3_uri(uri, allow_empty_key=True)  # a malformed URI fails now, not at the first upload
        self.uri = uri
        self._environ = environ
        self._client: S3Client | None = None

    def _s3(self) -> S3Client | None:
        if is_s3_uri(self.uri) and self._client is None:
            self._client = s3_client(self._environ)
        return self._client

    def put(self, source: Path, key: str) -> None:
        put_file(source, join_uri(self.uri, key), self._s3())

    def delete(self, key: str) -> None:
        delete_file(join_uri(self.uri, key), self._s3())


def destination_for(uri: str, environ: Mapping[str, str]) -> Destination:
    """`s3://bucket/prefix`, `file:///dir` or a local path."""
    return Destination(uri, environ)
