"""The model at AIP_STORAGE_URI: local folders and tarballs, and gs:// through the real Google Cloud Storage
client against gcp-storage-emulator (a local GCS server on loopback)."""

from __future__ import annotations

import io
import socket
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from smtoolkit.errors import CodeFetchError, ConfigError, LaunchError
from smtoolkit.serve.protocols.vertex import fetch_model


def _tarball(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, content in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            archive.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


def test_a_local_folder_is_served_in_place(tmp_path: Path) -> None:
    (tmp_path / "artifacts").mkdir()
    assert fetch_model(str(tmp_path / "artifacts"), tmp_path / "model") == tmp_path / "artifacts"
    assert fetch_model(f"file://{tmp_path / 'artifacts'}", tmp_path / "model") == tmp_path / "artifacts"
    assert fetch_model(None, tmp_path / "model") == tmp_path / "model"


def test_a_local_tarball_is_extracted_safely(tmp_path: Path) -> None:
    archive = tmp_path / "model.tar.gz"
    archive.write_bytes(_tarball({"weights.bin": b"w", "code/inference.py": b"pass"}))
    assert fetch_model(str(archive), tmp_path / "model") == tmp_path / "model"
    assert (tmp_path / "model" / "weights.bin").read_bytes() == b"w"
    assert (tmp_path / "model" / "code" / "inference.py").exists()
    archive.write_bytes(_tarball({"../escape.txt": b"x"}))
    with pytest.raises(CodeFetchError, match="escape"):
        fetch_model(str(archive), tmp_path / "again")
    assert not (tmp_path / "escape.txt").exists()


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("s3://bucket/model", "AIP_STORAGE_URI: got 's3://bucket/model': expected gs://, file:// or a path"),
        ("/no/such/model", "AIP_STORAGE_URI: got '/no/such/model': no such file or directory"),
        ("gs:///model", "expected gs://bucket/path"),
    ],
)
def test_bad_uris_are_named(tmp_path: Path, uri: str, expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        fetch_model(uri, tmp_path / "model")
    assert expected in str(caught.value)


MISSING_EXTRA = """
import sys
from pathlib import Path
sys.modules["google.cloud.storage"] = None  # as in an image installed without the [gcs] extra
from smtoolkit.errors import ConfigError
from smtoolkit.serve.protocols.vertex import fetch_model
try:
    fetch_model("gs://bucket/model", Path(sys.argv[1]))
except ConfigError as error:
    assert "pip install 'smtoolkit[gcs]'" in str(error) and "AIP_STORAGE_URI" in str(error), error
else:
    raise AssertionError("no error without the gcs extra")
"""


def test_gs_without_the_extra_names_it(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-c", MISSING_EXTRA, str(tmp_path)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr


@pytest.fixture
def gcs_bucket(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A bucket on gcp-storage-emulator, with the client pointed at it (STORAGE_EMULATOR_HOST)."""
    from gcp_storage_emulator.server import create_server
    from google.cloud import storage as gcs

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = create_server("127.0.0.1", port, in_memory=True, default_bucket="models")
    server.start()
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", f"http://127.0.0.1:{port}")
    try:
        yield gcs.Client().bucket("models")
    finally:
        server.stop()


def test_gs_folder_is_downloaded_with_archives_extracted(gcs_bucket: Any, tmp_path: Path) -> None:
    gcs_bucket.blob("456/weights.bin").upload_from_string(b"w" * 100)
    gcs_bucket.blob("456/sub/labels.txt").upload_from_string(b"cat\ndog\n")
    gcs_bucket.blob("456/code.tar.gz").upload_from_string(_tarball({"code/inference.py": b"pass"}))
    gcs_bucket.blob("4567/other.bin").upload_from_string(b"not this model")
    model_dir = fetch_model("gs://models/456", tmp_path / "model")
    files = sorted(str(p.relative_to(model_dir)) for p in model_dir.rglob("*") if p.is_file())
    assert files == ["code/inference.py", "sub/labels.txt", "weights.bin"]
    assert (model_dir / "sub" / "labels.txt").read_bytes() == b"cat\ndog\n"


def test_gs_single_archive(gcs_bucket: Any, tmp_path: Path) -> None:
    gcs_bucket.blob("m/model.tar.gz").upload_from_string(_tarball({"model.pt": b"pt"}))
    model_dir = fetch_model("gs://models/m/model.tar.gz", tmp_path / "model")
    assert (model_dir / "model.pt").read_bytes() == b"pt"


def test_gs_nothing_there(gcs_bucket: Any, tmp_path: Path) -> None:
    with pytest.raises(LaunchError, match="AIP_STORAGE_URI=gs://models/absent: no objects there"):
        fetch_model("gs://models/absent", tmp_path / "model")
