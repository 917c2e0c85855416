"""FolderUploader on real files and real inotify events, to a local destination folder."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from smtoolkit.atomicfile import write_atomically
from smtoolkit.dirsync import uploader as uploader_module
from smtoolkit.dirsync.destination import Destination
from smtoolkit.dirsync.uploader import FolderUploader


def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def has(path: Path, content: bytes) -> Callable[[], bool]:
    return lambda: path.is_file() and path.read_bytes() == content


@pytest.fixture
def folders(tmp_path: Path) -> tuple[Path, Path]:
    return tmp_path / "watched", tmp_path / "remote"


@pytest.fixture
def uploader(folders: tuple[Path, Path]) -> Iterator[FolderUploader]:
    watched, remote = folders
    mirror = FolderUploader(watched, Destination(str(remote), {}), what="test").start()
    yield mirror
    mirror.stop()


def test_closed_files_renamed_in_and_rewritten_are_uploaded_while_watching(
    uploader: FolderUploader, folders: tuple[Path, Path], tmp_path: Path
) -> None:
    watched, remote = folders
    (watched / "a.txt").write_bytes(b"one")
    wait_for(has(remote / "a.txt", b"one"))
    outside = tmp_path / "outside.bin"
    outside.write_bytes(b"moved in")
    os.rename(outside, watched / "moved.bin")  # IN_MOVED_TO only: the AWS toolkit never uploads these
    wait_for(has(remote / "moved.bin", b"moved in"))
    (watched / "deep" / "er").mkdir(parents=True)
    (watched / "deep" / "er" / "b.txt").write_bytes(b"deep")
    wait_for(has(remote / "deep" / "er" / "b.txt", b"deep"))
    (watched / "a.txt").write_bytes(b"two")
    wait_for(has(remote / "a.txt", b"two"))
    write_atomically(watched / "atomic.txt", b"whole")
    wait_for(has(remote / "atomic.txt", b"whole"))
    assert not [p for p in remote.rglob("*") if p.name.endswith(".partial")]


def test_an_open_file_waits_for_its_close_and_deletions_stay_remote(
    uploader: FolderUploader, folders: tuple[Path, Path]
) -> None:
    watched, remote = folders
    with (watched / "log.txt").open("wb") as stream:
        stream.write(b"partial")
        stream.flush()
        (watched / "marker").write_bytes(b"m")  # closed after log.txt was opened: uploaded first
        wait_for(has(remote / "marker", b"m"))
        assert not (remote / "log.txt").exists()
        stream.write(b" and the rest")
    wait_for(has(remote / "log.txt", b"partial and the rest"))
    (watched / "marker").unlink()
    uploader.stop()
    assert (remote / "marker").exists()  # intermediate output: nothing is deleted remotely


def test_files_there_before_are_not_sent_again_and_deletes_are_mirrored_when_asked(folders: tuple[Path, Path]) -> None:
    watched, remote = folders
    watched.mkdir()
    (watched / "restored.pt").write_bytes(b"r")  # already at the destination: not uploaded again
    (remote / "restored.pt").parent.mkdir()
    (remote / "restored.pt").write_bytes(b"r")
    mirror = FolderUploader(watched, Destination(str(remote), {}), what="checkpoints", mirror_deletes=True).start()
    (watched / "step-2.pt").write_bytes(b"2")
    wait_for(has(remote / "step-2.pt", b"2"))
    (watched / "restored.pt").unlink()
    wait_for(lambda: not (remote / "restored.pt").exists())
    mirror.stop()
    assert sorted(p.name for p in remote.iterdir()) == ["step-2.pt"] and mirror.uploaded == 1


def test_failed_uploads_are_logged_and_retried_in_the_final_pass(
    folders: tuple[Path, Path], caplog: pytest.LogCaptureFixture
) -> None:
    watched, remote = folders
    remote.parent.mkdir(parents=True, exist_ok=True)
    remote.write_text("a file where the destination folder should be")
    mirror = FolderUploader(watched, Destination(str(remote), {}), what="test").start()
    (watched / "a.txt").write_bytes(b"a")
    wait_for(lambda: mirror.failed == 1)
    remote.unlink()
    mirror.stop()
    assert (remote / "a.txt").read_bytes() == b"a" and "cannot upload a.txt" in caplog.text
    assert mirror.unsent == []


def test_files_still_failing_after_the_final_pass_are_unsent(folders: tuple[Path, Path]) -> None:
    watched, remote = folders
    remote.parent.mkdir(parents=True, exist_ok=True)
    remote.write_text("a file where the destination folder should be")
    mirror = FolderUploader(watched, Destination(str(remote), {}), what="test").start()
    (watched / "a.txt").write_bytes(b"a")
    mirror.stop()
    assert mirror.unsent == ["a.txt"] and mirror.last_error


def test_links_are_never_followed(uploader: FolderUploader, folders: tuple[Path, Path], tmp_path: Path) -> None:
    watched, remote = folders
    secret = tmp_path / "secret.txt"
    secret.write_text("not for upload")
    (watched / "link.txt").symlink_to(secret)
    (watched / "real.txt").write_bytes(b"r")
    wait_for(has(remote / "real.txt", b"r"))
    uploader.stop()
    assert sorted(p.name for p in remote.iterdir()) == ["real.txt"]


def test_without_a_watch_the_files_still_go_at_the_end(
    folders: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # Mocked: reaching the machine's inotify limits needs root (sysctl fs.inotify.max_user_watches).
    def refuse(*args: object) -> None:
        raise OSError(28, "inotify watch limit reached")

    monkeypatch.setattr(uploader_module, "_watch", refuse)
    watched, remote = folders
    mirror = FolderUploader(watched, Destination(str(remote), {}), what="test").start()
    (watched / "a.txt").write_bytes(b"a")
    mirror.stop()
    assert (remote / "a.txt").read_bytes() == b"a" and "uploaded when the job ends" in caplog.text
