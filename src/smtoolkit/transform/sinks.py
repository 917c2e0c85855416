"""Where `.out` files go: a local folder (written as `<name>.out.partial`, renamed when complete) or an s3://
prefix (spooled to a local temporary file, then uploaded with boto3's managed transfer, multipart above
8 MiB). A file that fails leaves nothing behind."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Protocol

from smtoolkit.errors import SmtoolkitError
from smtoolkit.storage import describe_error, is_s3_uri, local_path, parse_s3_uri, s3_client

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

OUTPUT_SUFFIX = ".out"
PARTIAL_SUFFIX = ".partial"
MULTIPART_SIZE = 8 * 1024 * 1024
WRITE_BUFFER = 1024 * 1024


class OutputWriter(Protocol):
    def write(self, data: bytes) -> None: ...
    def commit(self) -> str: ...  # returns where the output now is
    def abort(self) -> None: ...


class OutputSink(Protocol):
    def open(self, relative: str) -> OutputWriter: ...


class LocalWriter:
    def __init__(self, target: Path) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        self.target = target
        self.partial = target.with_name(target.name + PARTIAL_SUFFIX)
        self.stream: BinaryIO = self.partial.open("wb", buffering=WRITE_BUFFER)

    def write(self, data: bytes) -> None:
        self.stream.write(data)

    def commit(self) -> str:
        self.stream.close()
        os.replace(self.partial, self.target)
        return str(self.target)

    def abort(self) -> None:
        self.stream.close()
        self.partial.unlink(missing_ok=True)


class LocalSink:
    def __init__(self, uri: str) -> None:
        self.root = local_path(uri)

    def open(self, relative: str) -> OutputWriter:
        return LocalWriter(self.root / (relative + OUTPUT_SUFFIX))


class S3Writer:
    def __init__(self, client: S3Client, bucket: str, key: str, spool_dir: str) -> None:
        self.client, self.bucket, self.key = client, bucket, key
        self.spool = tempfile.NamedTemporaryFile(dir=spool_dir, prefix="out-", delete=False)  # noqa: SIM115

    def write(self, data: bytes) -> None:
        self.spool.write(data)

    def commit(self) -> str:
        from boto3.s3.transfer import TransferConfig
        from botocore.exceptions import BotoCoreError, ClientError

        uri = f"s3://{self.bucket}/{self.key}"
        self.spool.close()
        config = TransferConfig(
            multipart_threshold=MULTIPART_SIZE, multipart_chunksize=MULTIPART_SIZE, max_concurrency=4
        )
        try:
            self.client.upload_file(self.spool.name, self.bucket, self.key, Config=config)
        except (BotoCoreError, ClientError) as exc:
            raise SmtoolkitError(f"uploading {uri} failed: {describe_error(exc, uri)}") from exc
        finally:
            os.unlink(self.spool.name)
        return uri

    def abort(self) -> None:
        self.spool.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.spool.name)


class S3Sink:
    def __init__(self, uri: str, environ: Mapping[str, str], spool_dir: str) -> None:
        self.bucket, prefix = parse_s3_uri(uri, allow_empty_key=True)
        self.prefix = prefix if not prefix or prefix.endswith("/") else prefix + "/"
        self.client = s3_client(environ)
        self.spool_dir = spool_dir

    def open(self, relative: str) -> OutputWriter:
        return S3Writer(self.client, self.bucket, self.prefix + relative + OUTPUT_SUFFIX, self.spool_dir)


def make_sink(uri: str, environ: Mapping[str, str], spool_dir: str) -> OutputSink:
    return S3Sink(uri, environ, spool_dir) if is_s3_uri(uri) else LocalSink(uri)
