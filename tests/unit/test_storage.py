"""storage.list_objects: one rule for an object's key below a local folder or an s3:// prefix, one error type."""

from __future__ import annotations

from pathlib import Path

import pytest

from smtoolkit.errors import ConfigError, StorageError
from smtoolkit.local.platform.store import ObjectStore
from smtoolkit.storage import StoredObject, delete_file, list_objects, put_file, relative_key
from smtoolkit.transform.io import list_inputs


@pytest.mark.parametrize(
    ("prefix", "key", "relative"),
    [("in/", "in/a/b.csv", "a/b.csv"), ("in", "in/a.csv", "a.csv"), ("data/in", "data/input1.csv", "input1.csv"),
     ("data/in", "data/in-2/a.csv", "in-2/a.csv"), ("data/x.csv", "data/x.csv", "x.csv"), ("", "top.csv", "top.csv"),
     ("", "a/b.csv", "a/b.csv")],
)  # fmt: skip
def test_a_key_is_its_path_below_the_prefix_or_below_its_folder_when_the_prefix_ends_inside_a_name(
    prefix: str, key: str, relative: str
) -> None:
    # Before: local jobs listed data/input1.csv under `data/in` as "put1.csv", transform kept the "in" folder.
    assert relative_key(key, prefix) == relative


def test_local_listing_is_sorted_recursive_and_the_same_for_every_caller(tmp_path: Path) -> None:
    for name in ("b.csv", "a/x.csv", "a/deep/y.csv"):
        (tmp_path / "in" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "in" / name).write_text("1\n")
    listed = list_objects(str(tmp_path / "in"))
    assert [item.key for item in listed] == ["a/deep/y.csv", "a/x.csv", "b.csv"]
    assert ObjectStore({}).list_objects(str(tmp_path / "in")) == listed
    assert [(f.uri, f.relative) for f in list_inputs(str(tmp_path / "in"), False, {})] == [
        (item.uri, item.key) for item in listed
    ]
    assert list_objects(f"file://{tmp_path}/in/b.csv") == [StoredObject("b.csv", str(tmp_path / "in/b.csv"), 2)]


def test_a_missing_local_path_is_a_config_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="missing: no such file or folder"):
        list_objects(str(tmp_path / "missing"))


def test_an_s3_failure_is_a_storage_error_naming_the_uri() -> None:
    # No S3 server at this endpoint: the real client fails to connect, without retrying.
    environ = {"S3_ENDPOINT_URL": "http://127.0.0.1:9", "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "y",
               "AWS_REGION": "us-east-1", "AWS_MAX_ATTEMPTS": "1"}  # fmt: skip
    with pytest.raises(StorageError, match=r"cannot list s3://bucket/prefix: "):
        list_objects("s3://bucket/prefix", environ=environ)
    with pytest.raises(StorageError, match=r"cannot list s3://bucket/prefix: "):
        ObjectStore(environ).list_objects("s3://bucket/prefix")


def test_a_file_put_at_a_local_path_appears_whole_and_can_be_deleted(tmp_path: Path) -> None:
    source, target = tmp_path / "a.bin", tmp_path / "remote" / "sub" / "a.bin"
    source.write_bytes(b"weights")
    put_file(source, str(target))
    assert target.read_bytes() == b"weights" and [p.name for p in target.parent.iterdir()] == ["a.bin"]
    delete_file(str(target))
    delete_file(str(target))  # already gone: no error
    assert not target.exists()


def test_a_local_put_that_cannot_write_is_a_storage_error_naming_both(tmp_path: Path) -> None:
    source, blocker = tmp_path / "a.bin", tmp_path / "remote"
    source.write_bytes(b"weights")
    blocker.write_text("a file where a folder should be")
    with pytest.raises(StorageError, match=f"cannot copy {source} to {blocker / 'a.bin'}"):
        put_file(source, str(blocker / "a.bin"))
