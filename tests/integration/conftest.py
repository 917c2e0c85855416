"""Fixtures for integration tests: one real S3-compatible server per session, and per-test variables and a
fresh bucket on it."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator

import pytest
from botocore.exceptions import BotoCoreError, ClientError

from tests.s3server import S3Server, S3ServerError, start_s3_server

# s3_env[...] key holding the per-test bucket (already created); harmless when passed on to a child process.
BUCKET_VARIABLE = "SMTOOLKIT_TEST_BUCKET"


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """A SeaweedFS S3 gateway on 127.0.0.1, shared by the session. Fails (never hangs) if it can't start."""
    try:
        server = start_s3_server(tmp_path_factory.mktemp("s3server"))
    except S3ServerError as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def s3_env(s3_server: S3Server) -> Iterator[dict[str, str]]:
    """Variables pointing boto3 at the server (S3_ENDPOINT_URL, dummy credentials, AWS_REGION), plus a
    fresh bucket, already created, named in s3_env["SMTOOLKIT_TEST_BUCKET"] (also the `s3_bucket` fixture).
    Pass it as `environ=` or as (part of) a child's env."""
    bucket = f"smtk-{uuid.uuid4().hex[:16]}"
    client = s3_server.client()
    client.create_bucket(Bucket=bucket)
    yield {**s3_server.environ(), BUCKET_VARIABLE: bucket}
    # Best effort (the server's data dir goes with the session); weed deletes non-empty buckets.
    with contextlib.suppress(BotoCoreError, ClientError):
        client.delete_bucket(Bucket=bucket)


@pytest.fixture
def s3_bucket(s3_env: dict[str, str]) -> str:
    """The per-test bucket of s3_env."""
    return s3_env[BUCKET_VARIABLE]
