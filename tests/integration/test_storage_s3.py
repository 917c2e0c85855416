"""storage.list_objects against the S3-compatible server: the one listing rule, as local folders list."""

from __future__ import annotations

from pathlib import Path

import pytest

from smtoolkit.errors import StorageError
from smtoolkit.local.platform.store import ObjectStore
from smtoolkit.storage import delete_file, list_objects, put_file
from smtoolkit.transform.io import list_inputs
from tests.s3server import S3Server

KEYS = ("data/in/a.csv", "data/in/sub/b.csv", "data/input1.csv", "data/in/", "other/c.csv")


def test_s3_prefixes_list_with_the_same_keys_as_local_folders(
    s3_server: S3Server, s3_bucket: str, s3_env: dict[str, str], tmp_path: Path
) -> None:
    client = s3_server.client()
    for key in KEYS:
        client.put_object(Bucket=s3_bucket, Key=key, Body=b"" if key.endswith("/") else b"1\n")
        if not key.endswith("/"):
            (tmp_path / key).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / key).write_bytes(b"1\n")
    folder = [item.key for item in list_objects(str(tmp_path / "data" / "in"))]
    assert folder == ["a.csv", "sub/b.csv"]
    for prefix in ("data/in/", "data/in"):
        uri = f"s3://{s3_bucket}/{prefix}"
        listed = list_objects(uri, environ=s3_env)
        # `data/in` is a key-name prefix: it matches data/input1.csv too, listed below the prefix's folder.
        expected = folder if prefix.endswith("/") else ["a.csv", "input1.csv", "sub/b.csv"]
        assert [item.key for item in listed] == expected
        assert ObjectStore(s3_env).list_objects(uri) == listed
        assert [file.relative for file in list_inputs(uri, False, s3_env)] == expected
    [single] = list_objects(f"s3://{s3_bucket}/data/in/a.csv", environ=s3_env)
    assert (single.key, single.size) == ("a.csv", 2)


def test_put_file_uploads_and_delete_file_removes_an_object(
    s3_server: S3Server, s3_bucket: str, s3_env: dict[str, str], tmp_path: Path
) -> None:
    source = tmp_path / "a.bin"
    source.write_bytes(b"weights")
    client = s3_server.client()
    put_file(source, f"s3://{s3_bucket}/ckpt/a.bin", client)
    assert client.get_object(Bucket=s3_bucket, Key="ckpt/a.bin")["Body"].read() == b"weights"
    delete_file(f"s3://{s3_bucket}/ckpt/a.bin", client)
    assert client.list_objects_v2(Bucket=s3_bucket, Prefix="ckpt/").get("KeyCount") == 0
    with pytest.raises(StorageError, match="cannot upload .* to s3://no-such-bucket-smtk/a.bin: "):
        put_file(source, "s3://no-such-bucket-smtk/a.bin", client)
