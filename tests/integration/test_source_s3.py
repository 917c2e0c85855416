"""fetch_code from s3:// against a real S3-compatible server (SeaweedFS)."""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

import pytest

from smtoolkit import storage
from smtoolkit.errors import CodeFetchError
from smtoolkit.usercode.fetch import fetch_code
from tests import s3server
from tests.s3server import S3Server

pytestmark = pytest.mark.integration


def sourcedir_tar_gz(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, content in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(content), 0o755 if name.endswith(".sh") else 0o644
            archive.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


@pytest.fixture
def uploaded(s3_server: S3Server, s3_bucket: str) -> tuple[str, dict[str, bytes]]:
    files = {
        "train.py": b"print('training')\n",
        "requirements.txt": b"",
        "pkg/__init__.py": b"",
        "entry.sh": b"#!/bin/sh\necho hi\n",
        "data/blob.bin": os.urandom(3 * 1024 * 1024),  # several reads of the streaming body
    }
    key = "job-1/source/sourcedir.tar.gz"
    s3_server.client().put_object(Bucket=s3_bucket, Key=key, Body=sourcedir_tar_gz(files))
    return f"s3://{s3_bucket}/{key}", files


def test_fetch_code_from_s3(uploaded: tuple[str, dict[str, bytes]], s3_env: dict[str, str], tmp_path: Path) -> None:
    uri, files = uploaded
    code_dir = tmp_path / "opt" / "ml" / "code"

    result = fetch_code(uri, code_dir, s3_env)

    assert (result.kind, result.uri, result.files_written, result.code_dir_had_files) == ("s3", uri, 5, False)
    for name, content in files.items():
        assert (code_dir / name).read_bytes() == content
    assert os.access(code_dir / "entry.sh", os.X_OK)


@pytest.mark.parametrize("variable", ["S3_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"])
def test_endpoint_variables(
    uploaded: tuple[str, dict[str, bytes]],
    s3_env: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    variable: str,
) -> None:
    for name in storage.ENDPOINT_VARIABLES:  # only the variable under test may point anywhere
        monkeypatch.delenv(name, raising=False)
    uri, files = uploaded
    environ = {k: v for k, v in s3_env.items() if k != "S3_ENDPOINT_URL"}
    environ[variable] = s3_env["S3_ENDPOINT_URL"]

    assert fetch_code(uri, tmp_path / "code", environ).files_written == len(files)


def test_fetch_code_reads_os_environ_by_default(
    uploaded: tuple[str, dict[str, bytes]],
    s3_env: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in s3_env.items():
        monkeypatch.setenv(name, value)
    uri, _ = uploaded
    assert (tmp_path / "code").exists() is False
    assert fetch_code(uri, tmp_path / "code").kind == "s3"
    assert (tmp_path / "code" / "train.py").is_file()


def test_missing_key_is_a_clear_error(s3_env: dict[str, str], s3_bucket: str, tmp_path: Path) -> None:
    uri = f"s3://{s3_bucket}/nope/sourcedir.tar.gz"
    with pytest.raises(CodeFetchError) as info:
        fetch_code(uri, tmp_path / "code", s3_env)
    message = str(info.value)
    assert uri in message and "NoSuchKey" in message and "'nope/sourcedir.tar.gz'" in message
    assert "Traceback" not in message


def test_missing_bucket_is_a_clear_error(s3_env: dict[str, str], tmp_path: Path) -> None:
    uri = "s3://smtoolkit-no-such-bucket/sourcedir.tar.gz"
    with pytest.raises(CodeFetchError) as info:
        fetch_code(uri, tmp_path / "code", s3_env)
    message = str(info.value)
    assert uri in message and "NoSuchBucket" in message and "does not exist" in message


def test_object_that_is_not_a_tarball(
    s3_server: S3Server, s3_env: dict[str, str], s3_bucket: str, tmp_path: Path
) -> None:
    s3_server.client().put_object(Bucket=s3_bucket, Key="train.py", Body=b"print('x')\n" * 100)
    uri = f"s3://{s3_bucket}/train.py"
    with pytest.raises(CodeFetchError, match="not a valid or complete tar archive") as info:
        fetch_code(uri, tmp_path / "code", s3_env)
    assert uri in str(info.value)


def test_truncated_object(s3_server: S3Server, s3_env: dict[str, str], s3_bucket: str, tmp_path: Path) -> None:
    data = sourcedir_tar_gz({"big.bin": os.urandom(1024 * 1024)})
    s3_server.client().put_object(Bucket=s3_bucket, Key="cut.tar.gz", Body=data[: len(data) // 2])
    uri = f"s3://{s3_bucket}/cut.tar.gz"
    with pytest.raises(CodeFetchError, match="not a valid or complete tar archive") as info:
        fetch_code(uri, tmp_path / "code", s3_env)
    assert uri in str(info.value)


def test_open_s3_object_streams(s3_server: S3Server, s3_env: dict[str, str], s3_bucket: str) -> None:
    payload = os.urandom(2 * 1024 * 1024 + 17)
    s3_server.client().put_object(Bucket=s3_bucket, Key="blob", Body=payload)
    with storage.open_s3_object(f"s3://{s3_bucket}/blob", s3_env) as body:
        chunks = iter(lambda: body.read(256 * 1024), b"")
        assert b"".join(chunks) == payload


@pytest.mark.parametrize(
    ("script", "expected"),
    [("echo 'bind: address already in use' >&2; exit 3", "exited with code 3"), ("exec sleep 30", "no answer")],
)
def test_server_that_fails_to_start_reports_its_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, script: str, expected: str
) -> None:
    fake = tmp_path / "weed"
    fake.write_text(f"#!/bin/sh\necho starting\n{script}\n")
    fake.chmod(0o755)
    monkeypatch.setattr(s3server, "find_weed", lambda: str(fake))
    with pytest.raises(s3server.S3ServerError, match=expected) as info:
        s3server.start_s3_server(tmp_path / "server", timeout=1.0)
    assert "starting" in str(info.value)
