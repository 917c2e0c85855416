"""The one place for s3:// versus local paths: parsing, the client, listing, reading and writing objects.
boto3 is imported inside functions only, so importing this module stays cheap for code that never touches S3.

Listing has one rule (`relative_key`), for local folders and S3 prefixes alike: an object's key is its path
below the listed location. `s3://b/data/in` (a key-name prefix) lists `data/in/a.csv` as `a.csv`, and when the
prefix ends inside a name (`data/in` matching `data/input1.csv`) the key is relative to the prefix's folder
(`input1.csv`); a key that *is* the prefix lists as its base name, as a listed local file does. Folder markers
(keys ending in `/`) are skipped. Every failure is a StorageError naming the URI.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, BinaryIO

from smtoolkit.atomicfile import atomic_path
from smtoolkit.errors import CodeFetchError, ConfigError, StorageError

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer
    from botocore.response import StreamingBody
    from mypy_boto3_s3 import S3Client

S3_SCHEME = "s3://"
FILE_SCHEME = "file://"
# Read in this order; S3_ENDPOINT_URL is what the AWS toolkit reads, the other two are botocore's own names.
ENDPOINT_VARIABLES = ("S3_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL")
REGION_VARIABLES = ("AWS_REGION", "SAGEMAKER_REGION", "AWS_DEFAULT_REGION")
READ_BUFFER_SIZE = 1024 * 1024
# boto3's transfer manager: files above this size go in parts, several at a time.
MULTIPART_THRESHOLD = 16 * 1024 * 1024
UPLOAD_THREADS = 4


def is_s3_uri(uri: str) -> bool:
    return uri[: len(S3_SCHEME)].lower() == S3_SCHEME


def local_path(uri: str) -> Path:
    """A local path or `file://` URI as a Path (`file:///opt/x` -> /opt/x)."""
    return Path(uri[len(FILE_SCHEME) :] if uri[: len(FILE_SCHEME)].lower() == FILE_SCHEME else uri)


def parse_s3_uri(uri: str, *, allow_empty_key: bool = False) -> tuple[str, str]:
    """`s3://bucket/some/key` -> ("bucket", "some/key"). An empty key is refused unless allowed (prefixes)."""
    if not is_s3_uri(uri):
        raise ConfigError.single(uri, "not an S3 URI; expected s3://bucket/key")
    bucket, _, key = uri[len(S3_SCHEME) :].partition("/")
    if not bucket or any(c.isspace() for c in bucket):
        raise ConfigError.single(uri, "malformed S3 URI: missing or invalid bucket name; expected s3://bucket/key")
    if not key and not allow_empty_key:
        raise ConfigError.single(uri, "malformed S3 URI: missing object key; expected s3://bucket/key")
    return bucket, key


def _first(environ: Mapping[str, str], names: tuple[str, ...]) -> str | None:
    return next((environ[name] for name in names if environ.get(name)), None)


def s3_client(environ: Mapping[str, str] | None = None) -> S3Client:
    """An S3 client configured from `environ` (default os.environ): endpoint, region, and credentials when
    the mapping holds them (else boto3's usual chain: files, container role, instance profile)."""
    import boto3
    from botocore.config import Config

    env = os.environ if environ is None else environ
    session_args: dict[str, Any] = {}
    if env.get("AWS_ACCESS_KEY_ID") and env.get("AWS_SECRET_ACCESS_KEY"):
        session_args["aws_access_key_id"] = env["AWS_ACCESS_KEY_ID"]
        session_args["aws_secret_access_key"] = env["AWS_SECRET_ACCESS_KEY"]
        session_args["aws_session_token"] = env.get("AWS_SESSION_TOKEN") or None
    elif env.get("AWS_PROFILE"):
        session_args["profile_name"] = env["AWS_PROFILE"]
    # botocore reads these two from os.environ only; honour them from the mapping we were given too.
    retries: dict[str, Any] = {}
    if env.get("AWS_MAX_ATTEMPTS", "").isdigit():
        retries["total_max_attempts"] = int(env["AWS_MAX_ATTEMPTS"])
    if env.get("AWS_RETRY_MODE") in ("legacy", "standard", "adaptive"):
        retries["mode"] = env["AWS_RETRY_MODE"]
    options: dict[str, Any] = {"user_agent_extra": "smtoolkit"}
    if retries:
        options["retries"] = retries
    session = boto3.session.Session(**session_args)
    return session.client(
        "s3",
        endpoint_url=_first(env, ENDPOINT_VARIABLES),
        region_name=_first(env, REGION_VARIABLES),
        config=Config(**options),
    )


def describe_error(exc: BaseException, uri: str) -> str:
    """One line saying why an S3 call on `uri` failed, without botocore's traceback."""
    from botocore.exceptions import ClientError

    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code", "Unknown"))
        message = error.get("Message") or ""
        bucket, key = parse_s3_uri(uri, allow_empty_key=True)
        hints = {
            "NoSuchKey": f"no object with key {key!r} in bucket {bucket!r}",
            "404": f"no object with key {key!r} in bucket {bucket!r}",
            "NoSuchBucket": f"bucket {bucket!r} does not exist",
            "AccessDenied": "access denied (check the job's role or credentials and the bucket policy)",
            "403": "access denied (check the job's role or credentials and the bucket policy)",
        }
        reason = hints.get(code, message or "request failed")
        return f"{code}: {reason}"
    return f"{type(exc).__name__}: {exc}"


class _GuardedStream(io.RawIOBase):
    """A raw stream over a get_object body that turns botocore read failures into CodeFetchError."""

    def __init__(self, body: StreamingBody, uri: str) -> None:
        self._body = body
        self._uri = uri

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        from botocore.exceptions import BotoCoreError

        view = memoryview(buffer).cast("B")
        try:
            data = self._body.read(len(view))
        except (BotoCoreError, OSError) as exc:
            raise CodeFetchError(f"{self._uri}: reading the object failed: {describe_error(exc, self._uri)}") from exc
        view[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            self._body.close()
        super().close()


def open_s3_object(uri: str, environ: Mapping[str, str] | None = None) -> BinaryIO:
    """A buffered, non-seekable stream of the object's bytes, read from the network as it is consumed.
    Close it (or use it in a `with`) when done. Raises CodeFetchError naming the URI when it can't be read."""
    from botocore.exceptions import BotoCoreError, ClientError

    bucket, key = parse_s3_uri(uri)
    try:
        body = s3_client(environ).get_object(Bucket=bucket, Key=key)["Body"]
    except (BotoCoreError, ClientError) as exc:
        raise CodeFetchError(f"cannot read {uri}: {describe_error(exc, uri)}") from exc
    return io.BufferedReader(_GuardedStream(body, uri), buffer_size=READ_BUFFER_SIZE)


@dataclass(frozen=True)
class StoredObject:
    key: str  # below the listed location, '/'-separated
    uri: str  # s3://bucket/key, or a local path
    size: int


def relative_key(key: str, prefix: str) -> str:
    """`key` below `prefix`, by the module's one listing rule."""
    rest = key[len(prefix) :]
    if not rest:
        return PurePosixPath(key).name
    if prefix.endswith("/") or rest.startswith("/") or not prefix:
        return rest.lstrip("/")
    return key[prefix.rfind("/") + 1 :]  # the prefix ends inside a name: relative to its folder


def join_uri(base: str, relative: str) -> str:
    """`base` (s3:// prefix or local dir) joined with a '/'-separated relative key."""
    if is_s3_uri(base):
        return f"{base.rstrip('/')}/{relative}"
    return str(local_path(base) / relative)


def list_objects(
    uri: str, client: S3Client | None = None, environ: Mapping[str, str] | None = None
) -> list[StoredObject]:
    """Every object under `uri` (a local file or folder, or an s3:// prefix), sorted by key.

    A missing local path is a ConfigError naming it; an S3 failure a StorageError."""
    if not is_s3_uri(uri):
        return sorted(_list_local(uri), key=lambda item: item.key)
    from botocore.exceptions import BotoCoreError, ClientError

    bucket, prefix = parse_s3_uri(uri, allow_empty_key=True)
    found: list[StoredObject] = []
    try:
        pages = (client or s3_client(environ)).get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        for page in pages:
            for item in page.get("Contents", []):
                if not item["Key"].endswith("/"):
                    key = item["Key"]
                    found.append(
                        StoredObject(relative_key(key, prefix), f"s3://{bucket}/{key}", int(item.get("Size", 0)))
                    )
    except (BotoCoreError, ClientError) as exc:
        raise StorageError(f"cannot list {uri}: {describe_error(exc, uri)}") from exc
    return sorted(found, key=lambda item: item.key)


def _list_local(uri: str) -> list[StoredObject]:
    path = local_path(uri)
    if path.is_file():
        return [StoredObject(path.name, str(path), path.stat().st_size)]
    if not path.is_dir():
        raise ConfigError.single(uri, "no such file or folder")
    files = (file for file in path.rglob("*") if file.is_file())
    return [StoredObject(file.relative_to(path).as_posix(), str(file), file.stat().st_size) for file in files]


def writable_problem(uri: str, environ: Mapping[str, str] | None = None) -> str | None:
    """Why nothing can be put at `uri`, or None; for checks before a long job. Local: the directory is created, a
    probe file written, and both removed again. s3://: the bucket answers HeadBucket, a cheap check that cannot
    prove write access."""
    if not is_s3_uri(uri):
        return _local_writable_problem(local_path(uri))
    from botocore.exceptions import BotoCoreError, ClientError

    bucket, _ = parse_s3_uri(uri, allow_empty_key=True)
    try:
        s3_client(environ).head_bucket(Bucket=bucket)
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", ""))
        return f"bucket {bucket!r} does not exist" if code in ("404", "NoSuchBucket") else describe_error(exc, uri)
    except BotoCoreError as exc:
        return describe_error(exc, uri)
    return None


def _local_writable_problem(path: Path) -> str | None:
    import tempfile

    created = []  # deepest first
    parent = path
    while not parent.exists() and parent != parent.parent:
        created.append(parent)
        parent = parent.parent
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".smtoolkit-probe-"):
            pass
    except OSError as exc:
        return f"cannot write there: {exc.strerror or exc}"
    finally:
        for directory in created:
            with contextlib.suppress(OSError):
                directory.rmdir()
    return None


def put_file(source: Path, uri: str, client: S3Client | None = None) -> None:
    """Put one local file at `uri`: a local path gets a whole copy renamed into place (never half a file);
    s3://bucket/key an upload through boto3's transfer manager (multipart and in parallel for big files), with
    `client` or one made from the environment. StorageError naming both on failure."""
    if not is_s3_uri(uri):
        try:
            with atomic_path(local_path(uri)) as partial:
                shutil.copyfile(source, partial)
        except OSError as exc:
            raise StorageError(f"cannot copy {source} to {uri}: {exc.strerror or exc}") from exc
        return
    from boto3.exceptions import Boto3Error
    from boto3.s3.transfer import TransferConfig
    from botocore.exceptions import BotoCoreError, ClientError

    bucket, key = parse_s3_uri(uri)
    config = TransferConfig(multipart_threshold=MULTIPART_THRESHOLD, max_concurrency=UPLOAD_THREADS)
    try:
        (client or s3_client()).upload_file(str(source), bucket, key, Config=config)
    except (BotoCoreError, ClientError, Boto3Error) as exc:  # upload_file wraps ClientError in S3UploadFailedError
        raise StorageError(f"cannot upload {source} to {uri}: {describe_error(exc, uri)}") from exc


def delete_file(uri: str, client: S3Client | None = None) -> None:
    """Remove the object or local file at `uri`; one already gone is no error. StorageError on failure."""
    if not is_s3_uri(uri):
        with contextlib.suppress(FileNotFoundError):
            local_path(uri).unlink()
        return
    from botocore.exceptions import BotoCoreError, ClientError

    bucket, key = parse_s3_uri(uri)
    try:
        (client or s3_client()).delete_object(Bucket=bucket, Key=key)
    except (BotoCoreError, ClientError) as exc:
        raise StorageError(f"cannot delete {uri}: {describe_error(exc, uri)}") from exc
