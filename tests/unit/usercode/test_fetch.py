"""fetch_code and safe_extract on local sources and hostile archives; storage's pure parts."""

from __future__ import annotations

import io
import logging
import os
import re
import socket
import stat
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from smtoolkit import storage
from smtoolkit.errors import CodeFetchError, ConfigError
from smtoolkit.usercode.fetch import FetchResult, fetch_code, safe_extract

Entry = tuple[str, bytes, int]  # name, content, mode


def make_tar(entries: list[Entry], compression: str = "gz") -> bytes:
    """A tar archive, gzip-compressed unless compression is ""."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz" if compression else "w") as archive:
        for name, content, mode in entries:
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(content), mode, 1_700_000_000
            archive.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


def make_special_tar(*members: tarfile.TarInfo, compression: str = "") -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz" if compression else "w") as archive:
        for member in members:
            data = io.BytesIO(b"x" * member.size) if member.isreg() else None
            archive.addfile(member, data)
    return buffer.getvalue()


def member(name: str, kind: bytes = tarfile.REGTYPE, linkname: str = "", size: int = 0) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.size, info.mode = kind, linkname, size, 0o644
    return info


SOURCE = [
    ("train.py", b"print('hi')\n", 0o644),
    ("run.sh", b"#!/bin/sh\n", 0o755),
    ("pkg/mod.py", b"x = 1\n", 0o644),
]


# --- fetch_code on local sources -----------------------------------------------------------------------


def test_none_or_empty_uri_leaves_code_dir_alone(tmp_path: Path) -> None:
    code_dir = tmp_path / "code"
    assert fetch_code(None, code_dir) == FetchResult("none", None, code_dir, 0, False)
    assert fetch_code("", code_dir).kind == "none"
    assert not code_dir.exists()
    code_dir.mkdir()
    (code_dir / "train.py").write_text("baked in")
    assert fetch_code(None, code_dir).code_dir_had_files is True
    assert (code_dir / "train.py").read_text() == "baked in"


def test_local_directory_is_copied(tmp_path: Path) -> None:
    source = tmp_path / "src"
    (source / "pkg").mkdir(parents=True)
    (source / "train.py").write_text("print(1)")
    (source / "pkg" / "mod.py").write_text("x = 1")
    (source / "run.sh").write_text("#!/bin/sh\n")
    (source / "run.sh").chmod(0o755)
    (source / "alias.py").symlink_to("train.py")
    code_dir = tmp_path / "opt" / "code"

    result = fetch_code(str(source), code_dir)

    assert result == FetchResult("directory", str(source), code_dir, 4, False)
    assert (code_dir / "pkg" / "mod.py").read_text() == "x = 1"
    assert os.access(code_dir / "run.sh", os.X_OK)
    assert os.readlink(code_dir / "alias.py") == "train.py"


def test_directory_that_is_the_code_dir_is_a_no_op(tmp_path: Path) -> None:
    code_dir = tmp_path / "code"
    code_dir.mkdir()
    (code_dir / "train.py").write_text("x")
    result = fetch_code(f"file://{tmp_path}/./code", code_dir)
    assert (result.kind, result.files_written, result.code_dir_had_files) == ("directory", 0, True)


def test_code_dir_inside_the_source_is_not_copied_into_itself(tmp_path: Path) -> None:
    (tmp_path / "train.py").write_text("x")
    code_dir = tmp_path / "code"
    result = fetch_code(str(tmp_path), code_dir)
    assert result.files_written == 1
    assert sorted(p.name for p in code_dir.iterdir()) == ["train.py"]


@pytest.mark.parametrize("compression", ["gz", ""])
def test_local_tarball_is_detected_by_content_not_name(tmp_path: Path, compression: str) -> None:
    archive = tmp_path / "code.bin"
    archive.write_bytes(make_tar(SOURCE, compression))
    code_dir = tmp_path / "code"

    result = fetch_code(f"file://{archive}", code_dir)

    assert (result.kind, result.files_written) == ("tarball", 3)
    assert (code_dir / "pkg" / "mod.py").read_text() == "x = 1\n"
    assert stat.S_IMODE((code_dir / "run.sh").stat().st_mode) == 0o755
    assert (code_dir / "train.py").stat().st_mtime == 1_700_000_000


@pytest.mark.parametrize("name", ["train.py", "data.gz"])
def test_other_local_file_is_copied(tmp_path: Path, name: str) -> None:
    source = tmp_path / name
    source.write_bytes(b"\x1f\x8b not a tarball" if name.endswith(".gz") else b"print(1)")
    code_dir = tmp_path / "code"
    result = fetch_code(f"file://{source}", code_dir)
    assert (result.kind, result.files_written) == ("file", 1)
    assert (code_dir / name).read_bytes() == source.read_bytes()


def test_missing_path_and_unknown_scheme_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(CodeFetchError, match="no such file or directory") as info:
        fetch_code(str(tmp_path / "nope.tar.gz"), tmp_path / "code")
    assert str(tmp_path / "nope.tar.gz") in str(info.value)
    with pytest.raises(CodeFetchError, match="unsupported URI scheme"):
        fetch_code("https://example.com/code.tar.gz", tmp_path / "code")


def test_code_dir_that_is_a_file_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "code").write_text("not a dir")
    with pytest.raises(CodeFetchError, match="code directory"):
        fetch_code(str(tmp_path), tmp_path / "code")


def write_source(tmp_path: Path, kind: str) -> Path:
    """SOURCE as a sourcedir.tar.gz or as a directory."""
    if kind == "tarball":
        archive = tmp_path / "sourcedir.tar.gz"
        archive.write_bytes(make_tar(SOURCE))
        return archive
    for name, content, mode in SOURCE:
        (tmp_path / "src" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "src" / name).write_bytes(content)
        (tmp_path / "src" / name).chmod(mode)
    return tmp_path / "src"


@pytest.mark.parametrize("kind", ["tarball", "directory"])
def test_submitted_code_wins_over_a_non_empty_code_dir(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, kind: str
) -> None:
    code_dir = tmp_path / "code"
    code_dir.mkdir()
    (code_dir / "train.py").write_text("baked into the image")
    (code_dir / "keep.txt").write_text("kept")
    (tmp_path / "outside.py").write_text("not to be overwritten")
    (code_dir / "run.sh").symlink_to(tmp_path / "outside.py")  # replaced, never written through
    source = write_source(tmp_path, kind)

    with caplog.at_level(logging.WARNING, logger="smtoolkit.usercode.fetch"):
        result = fetch_code(str(source), code_dir)

    assert (result.kind, result.files_written, result.code_dir_had_files) == (kind, 3, True)
    assert (code_dir / "train.py").read_text() == "print('hi')\n"
    assert (code_dir / "keep.txt").read_text() == "kept"
    assert not (code_dir / "run.sh").is_symlink() and os.access(code_dir / "run.sh", os.X_OK)
    assert (tmp_path / "outside.py").read_text() == "not to be overwritten"
    [record] = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert "3 entries" in record.getMessage() and str(source) in record.getMessage()


def test_special_file_in_a_source_directory_is_refused(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    os.mkfifo(tmp_path / "src" / "pipe")  # copying it would block forever
    with pytest.raises(CodeFetchError, match="pipe"):
        fetch_code(str(tmp_path / "src"), tmp_path / "code")


# --- safe_extract --------------------------------------------------------------------------------------


def test_modes_are_kept_without_setuid_or_ownership(tmp_path: Path) -> None:
    info = member("tool", size=3)
    info.mode, info.uid, info.gid, info.uname = 0o6777, 12345, 12345, "nobody"
    plain = member("data.txt", size=3)
    plain.mode = 0o666
    dest = tmp_path / "dest"
    assert safe_extract(io.BytesIO(make_special_tar(info, plain)), dest) == 2
    assert stat.S_IMODE((dest / "tool").stat().st_mode) == 0o755
    assert stat.S_IMODE((dest / "data.txt").stat().st_mode) == 0o644
    assert (dest / "tool").stat().st_uid == os.getuid()


def test_in_tree_links_are_fine(tmp_path: Path) -> None:
    data = make_special_tar(
        member("pkg/", tarfile.DIRTYPE),
        member("pkg/real.py", size=4),
        member("pkg/alias.py", tarfile.SYMTYPE, linkname="real.py"),
        member("top.py", tarfile.SYMTYPE, linkname="pkg/real.py"),
        member("hard.py", tarfile.LNKTYPE, linkname="pkg/real.py"),
        member("./", tarfile.DIRTYPE),
    )
    dest = tmp_path / "dest"
    assert safe_extract(io.BytesIO(data), dest) == 4
    assert (dest / "top.py").read_bytes() == (dest / "hard.py").read_bytes() == b"xxxx"
    assert (dest / "hard.py").stat().st_ino == (dest / "pkg" / "real.py").stat().st_ino


def hostile_cases(outside: Path) -> dict[str, tuple[list[tarfile.TarInfo], str]]:
    """name -> (members, the member the error must name)."""
    return {
        "dotdot": ([member("../evil", size=1)], "../evil"),
        "absolute": ([member(f"{outside}/evil", size=1)], f"{outside}/evil"),
        "nested-dotdot": ([member("a/../../x", size=1)], "a/../../x"),
        "symlink-absolute": ([member("link", tarfile.SYMTYPE, linkname=str(outside))], "link"),
        "symlink-relative": ([member("sub/link", tarfile.SYMTYPE, linkname="../../outside")], "sub/link"),
        "symlink-chain": (
            [
                member("d", tarfile.SYMTYPE, linkname="sub/.."),
                member("sub", tarfile.SYMTYPE, linkname="."),
                member("d/evil", size=1),
            ],
            "d/evil",
        ),
        "hardlink-relative": ([member("h", tarfile.LNKTYPE, linkname="../outside/secret")], "h"),
        "hardlink-absolute": ([member("h", tarfile.LNKTYPE, linkname=f"{outside}/secret")], "h"),
        "device": ([member("dev/null", tarfile.CHRTYPE)], "dev/null"),
        "fifo": ([member("pipe", tarfile.FIFOTYPE)], "pipe"),
    }


@pytest.fixture(params=["with-data-filter", "without-data-filter"])
def data_filter(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run both ways: the checks are ours, so Pythons without tarfile.data_filter behave the same."""
    if request.param == "without-data-filter":
        monkeypatch.delattr(tarfile, "data_filter", raising=False)


@pytest.mark.usefixtures("data_filter")
@pytest.mark.parametrize("case", list(hostile_cases(Path("/x"))))
def test_hostile_archive_is_refused_naming_the_member(tmp_path: Path, case: str) -> None:
    sandbox = tmp_path / "sandbox"
    outside = sandbox / "outside"
    outside.mkdir(parents=True)
    (outside / "secret").write_text("secret")
    dest = sandbox / "dest"
    members, culprit = hostile_cases(outside)[case]

    with pytest.raises(CodeFetchError, match=re.escape(repr(culprit))) as info:
        safe_extract(io.BytesIO(make_special_tar(*members, compression="gz")), dest, source="s3://b/k")

    assert "s3://b/k" in str(info.value)
    assert sorted(p.name for p in sandbox.iterdir()) == ["dest", "outside"]
    assert sorted(p.name for p in outside.iterdir()) == ["secret"]
    assert (outside / "secret").read_text() == "secret"
    assert not (tmp_path / "evil").exists() and not (sandbox / "x").exists()


def test_truncated_archive_names_the_uri(tmp_path: Path) -> None:
    data = make_tar([("big.bin", os.urandom(300_000), 0o644)])
    archive = tmp_path / "sourcedir.tar.gz"
    archive.write_bytes(data[: len(data) // 2])
    with pytest.raises(CodeFetchError, match="not a valid or complete tar archive") as info:
        fetch_code(str(archive), tmp_path / "code")
    assert str(archive) in str(info.value)
    assert not (tmp_path / "code" / "big.bin").exists()  # the partial file is removed


def test_garbage_is_not_an_archive(tmp_path: Path) -> None:
    with pytest.raises(CodeFetchError, match="label"):
        safe_extract(io.BytesIO(b"hello " * 200), tmp_path, source="label")


class OneWayReader(io.RawIOBase):
    """A non-seekable source that records every read size; seek and tell fail like a socket's."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)
        self.sizes: list[int] = []

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        self.sizes.append(size)
        return self._data.read(size)

    def seekable(self) -> bool:
        return False

    def seek(self, offset: int, whence: int = 0) -> int:
        raise AssertionError("seek called on a stream")

    def tell(self) -> int:
        raise AssertionError("tell called on a stream")


def test_extraction_streams_in_bounded_reads(tmp_path: Path) -> None:
    payload = [(f"f{i}.bin", os.urandom(256 * 1024), 0o644) for i in range(8)]
    source = OneWayReader(make_tar(payload))
    assert safe_extract(source, tmp_path / "dest") == 8  # type: ignore[arg-type]
    assert len(source.sizes) > 8
    assert all(0 < size <= 1024 * 1024 for size in source.sizes)
    assert (tmp_path / "dest" / "f7.bin").read_bytes() == payload[7][1]


# --- storage -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("module", ["smtoolkit.storage", "smtoolkit.usercode.fetch"])
def test_importing_does_not_import_boto3(module: str) -> None:
    code = f"import sys, {module}; sys.exit('boto3' in sys.modules or 'botocore' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_parse_s3_uri() -> None:
    assert storage.is_s3_uri("s3://b/k") and not storage.is_s3_uri("/tmp/s3://x")
    assert storage.parse_s3_uri("s3://bucket/a/b.tar.gz") == ("bucket", "a/b.tar.gz")
    assert storage.parse_s3_uri("s3://bucket/", allow_empty_key=True) == ("bucket", "")
    for bad in ("s3://", "s3:///key", "s3://bucket", "s3://bucket/", "gs://b/k"):
        with pytest.raises(ConfigError, match=re.escape(bad)):
            storage.parse_s3_uri(bad)


def test_local_path_strips_file_scheme() -> None:
    assert storage.local_path("file:///opt/ml/code") == Path("/opt/ml/code")
    assert storage.local_path("relative/dir") == Path("relative/dir")


@pytest.fixture
def clean_aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (*storage.ENDPOINT_VARIABLES, *storage.REGION_VARIABLES, "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")  # no region from this machine's ~/.aws/config


@pytest.mark.usefixtures("clean_aws_env")
@pytest.mark.parametrize(
    ("environ", "endpoint", "region"),
    [
        ({"S3_ENDPOINT_URL": "http://a:1", "AWS_ENDPOINT_URL_S3": "http://b:2"}, "http://a:1", None),
        ({"AWS_ENDPOINT_URL_S3": "http://b:2", "AWS_ENDPOINT_URL": "http://c:3"}, "http://b:2", None),
        ({"AWS_ENDPOINT_URL": "http://c:3", "AWS_REGION": "eu-west-1"}, "http://c:3", "eu-west-1"),
        ({"SAGEMAKER_REGION": "us-west-2", "AWS_DEFAULT_REGION": "ap-south-1"}, None, "us-west-2"),
        ({"AWS_DEFAULT_REGION": "ap-south-1"}, None, "ap-south-1"),
    ],
)
def test_s3_client_endpoint_and_region(environ: dict[str, str], endpoint: str | None, region: str | None) -> None:
    environ = {"AWS_ACCESS_KEY_ID": "k", "AWS_SECRET_ACCESS_KEY": "s", **environ}
    client = storage.s3_client(environ)
    assert client.meta.region_name == (region or "us-east-1")  # botocore's default for S3 without a region
    if endpoint:
        assert client.meta.endpoint_url == endpoint
    else:
        assert client.meta.endpoint_url.startswith("https://s3.")


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.usefixtures("clean_aws_env")
def test_unreachable_endpoint_is_a_clear_error(tmp_path: Path) -> None:
    environ = {
        "S3_ENDPOINT_URL": f"http://127.0.0.1:{closed_port()}",
        "AWS_ACCESS_KEY_ID": "k",
        "AWS_SECRET_ACCESS_KEY": "s",
        "AWS_REGION": "us-east-1",
        "AWS_MAX_ATTEMPTS": "1",
    }
    with pytest.raises(CodeFetchError) as info:
        fetch_code("s3://bucket/code/sourcedir.tar.gz", tmp_path / "code", environ)
    message = str(info.value)
    assert "s3://bucket/code/sourcedir.tar.gz" in message and "EndpointConnectionError" in message
    assert "Traceback" not in message


class FakeClient:
    """Stands in for boto3's S3 client: get_object raises `error` or returns a body that fails mid-stream."""

    def __init__(self, error: Exception | None = None, body_error: Exception | None = None) -> None:
        self.error, self.body_error = error, body_error

    def get_object(self, Bucket: str, Key: str) -> dict[str, object]:
        if self.error is not None:
            raise self.error
        data, failure = io.BytesIO(make_tar(SOURCE)[:100]), self.body_error

        class Body:
            def read(self, size: int = -1) -> bytes:
                if failure is not None and data.tell() >= 50:
                    raise failure
                return data.read(min(size, 50))

            def close(self) -> None:
                pass

        return {"Body": Body()}


def test_access_denied_and_mid_stream_failures_are_clear(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from botocore.exceptions import ClientError, ReadTimeoutError

    uri = "s3://bucket/code/sourcedir.tar.gz"
    denied = ClientError({"Error": {"Code": "AccessDenied", "Message": "Access Denied"}}, "GetObject")
    monkeypatch.setattr(storage, "s3_client", lambda environ=None: FakeClient(error=denied))
    with pytest.raises(CodeFetchError, match=f"{re.escape(uri)}: AccessDenied: access denied"):
        fetch_code(uri, tmp_path / "code")

    timeout = ReadTimeoutError(endpoint_url="http://s3")
    monkeypatch.setattr(storage, "s3_client", lambda environ=None: FakeClient(body_error=timeout))
    with pytest.raises(CodeFetchError, match=f"{re.escape(uri)}: reading the object failed: ReadTimeoutError"):
        fetch_code(uri, tmp_path / "code")
