"""Listing inputs (relative paths kept, recursive), manifests, endpoints, and local outputs that leave nothing
behind on failure."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from smtoolkit.errors import ConfigError
from smtoolkit.transform.client import parse_endpoint
from smtoolkit.transform.io import InputFile, list_inputs
from smtoolkit.transform.sinks import LocalSink


def test_local_folders_are_listed_recursively_with_relative_paths(tmp_path: Path):
    for name in ("b.csv", "a/x.csv", "a/deep/y.csv"):
        (tmp_path / "in" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "in" / name).write_text("1\n")
    files = list_inputs(str(tmp_path / "in"), False, {})
    assert [file.relative for file in files] == ["a/deep/y.csv", "a/x.csv", "b.csv"]
    assert list_inputs(f"file://{tmp_path}/in/b.csv", False, {}) == [InputFile(str(tmp_path / "in/b.csv"), "b.csv", 2)]
    with pytest.raises(ConfigError, match="no such file or folder"):
        list_inputs(str(tmp_path / "missing"), False, {})


def test_manifest_lists_prefix_plus_keys(tmp_path: Path):
    manifest = tmp_path / "m.json"
    manifest.write_text(json.dumps([{"prefix": f"{tmp_path}/data/"}, "a.csv", "sub/b.csv"]))
    files = list_inputs(str(manifest), True, {})
    assert [(f.uri, f.relative) for f in files] == [
        (f"{tmp_path}/data/a.csv", "a.csv"),
        (f"{tmp_path}/data/sub/b.csv", "sub/b.csv"),
    ]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("nope", "not valid JSON"),
        ('{"prefix": "s3://b/"}', "expected a JSON array"),
        ('[{"prefix": 3}, "a"]', "needs a string prefix"),
        ('[{"prefix": "s3://b/"}, "../etc/passwd"]', "expected a relative key"),
    ],
)
def test_bad_manifests_are_named(tmp_path: Path, content: str, message: str):
    manifest = tmp_path / "m.json"
    manifest.write_text(content)
    with pytest.raises(ConfigError, match=message):
        list_inputs(str(manifest), True, {})


def test_endpoints():
    assert parse_endpoint("http://127.0.0.1:8080") == ("127.0.0.1", 8080)
    assert parse_endpoint("localhost:9000") == ("localhost", 9000)
    with pytest.raises(ConfigError, match="expected http://HOST:PORT"):
        parse_endpoint("https://example.com")


def test_local_outputs_appear_only_when_committed(tmp_path: Path):
    sink = LocalSink(str(tmp_path / "out"))
    good, bad = sink.open("a/x.csv"), sink.open("y.csv")
    good.write(b"1\n")
    bad.write(b"2\n")
    assert sorted(p.name for p in (tmp_path / "out").rglob("*") if p.is_file()) == [
        "x.csv.out.partial",
        "y.csv.out.partial",
    ]
    assert good.commit() == str(tmp_path / "out" / "a" / "x.csv.out")
    bad.abort()
    assert [p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*") if p.is_file()] == [
        "a/x.csv.out"
    ]
