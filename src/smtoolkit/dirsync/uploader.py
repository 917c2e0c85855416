"""Mirror a folder while a job writes into it: each file is uploaded once it is closed after writing, or renamed
or moved into the folder (inotify IN_CLOSE_WRITE and IN_MOVED_TO, through watchdog), and again whenever it
changes later. A final pass at the end uploads whatever changed and was missed.

The uploads run on one thread of the process that owns the folder's watch (the launcher or the local job), never
in the training process. Memory stays bounded by the number of files: pending work is a set of relative paths,
so a file closed a thousand times before its upload starts is uploaded once, read as it is then. Upload errors
are logged and retried in the final pass; they never stop the job, and what is still not uploaded after it is
`unsent` (with `last_error`) for the caller to report.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from smtoolkit.atomicfile import is_partial
from smtoolkit.dirsync.destination import Destination

if TYPE_CHECKING:
    from watchdog.events import FileSystemEvent
    from watchdog.observers.api import BaseObserver

log = logging.getLogger(__name__)

Signature = tuple[int, int]  # size, modification time in ns: "the file changed since it was uploaded"


def _signature(path: Path) -> Signature | None:
    try:
        status = path.stat()
    except OSError:
        return None
    return (status.st_size, status.st_mtime_ns)


def _is_regular(path: Path) -> bool:
    """A finished regular file; links are never followed (one could point anywhere on the machine)."""
    return path.is_file() and not path.is_symlink() and not is_partial(path)


class FolderUploader:
    """`start()`, then `stop()` for the final pass; `mirror_deletes` also deletes what disappears from the folder."""

    def __init__(self, root: Path, destination: Destination, *, what: str, mirror_deletes: bool = False) -> None:
        self.root = root
        self.destination = destination
        self.what = what
        self.mirror_deletes = mirror_deletes
        self.uploaded = 0
        self.failed = 0
        self.last_error: str | None = None
        self._unsent: set[str] = set()
        self._sent: dict[str, Signature] = {}
        self._pending: set[str] = set()
        self._changed = threading.Condition()
        self._stopping = False
        self._observer: BaseObserver | None = None
        self._worker = threading.Thread(target=self._work, name=f"upload {what}", daemon=True)

    def start(self) -> FolderUploader:
        """Watch the folder (created if needed); files already there count as sent (they came from there)."""
        self.root.mkdir(parents=True, exist_ok=True)
        for path in self._files():
            if (signature := _signature(path)) is not None:
                self._sent[self._key(path)] = signature
        try:
            self._observer = _watch(self.root, self)
        except OSError as exc:  # inotify limits (max_user_watches, max_user_instances) reached
            log.warning("%s: cannot watch %s (%s); its files are uploaded when the job ends", self.what, self.root, exc)
        self._worker.start()
        log.info("uploading %s from %s to %s as files are written", self.what, self.root, self.destination.uri)
        return self

    def stop(self, timeout: float = 60.0) -> None:
        """Stop watching, upload what changed since the last upload, and wait for that (at most `timeout` s)."""
        if not self._worker.is_alive():
            return
        if self._observer is not None:
            self._observer.stop()
            self._observer.join()
            self._observer = None
        with self._changed:
            self._stopping = True
            self._changed.notify_all()
        self._worker.join(timeout)
        if self._worker.is_alive():
            left = len(self._pending)
            log.warning("%s: gave up waiting after %.0f s; %d files not uploaded", self.what, timeout, left)
        log.info("%s: %d uploads, %d failed, to %s", self.what, self.uploaded, self.failed, self.destination.uri)

    @property
    def unsent(self) -> list[str]:
        """The files (relative paths) whose last upload failed or never ran: after `stop()`, those not at the
        destination."""
        with self._changed:
            return sorted(self._unsent | self._pending)

    def unsent_problem(self) -> str | None:
        """After `stop()`: one line saying what was not uploaded, why, and where the files are kept; else None."""
        if not (unsent := self.unsent):
            return None
        why = self.last_error or "the final pass did not finish"
        return (
            f"{self.what}: {len(unsent)} file(s) could not be uploaded to {self.destination.uri} ({why}); "
            f"they are kept in {self.root}"
        )

    def __enter__(self) -> FolderUploader:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def notice(self, path: str, *, removed: bool = False) -> None:
        """Called by the watch: `path` was closed after writing, moved in, or (removed) deleted or moved out."""
        candidate = Path(path)
        if is_partial(candidate) or (removed and not self.mirror_deletes):
            return
        try:
            key = self._key(candidate)
        except ValueError:  # outside the folder
            return
        with self._changed:
            self._pending.add(key)
            self._changed.notify()

    def notice_tree(self, folder: str) -> None:
        for path in Path(folder).rglob("*"):
            if _is_regular(path):
                self.notice(str(path))

    def _key(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()

    def _files(self) -> list[Path]:
        return [path for path in self.root.rglob("*") if _is_regular(path)]

    def _work(self) -> None:
        final_pass = False
        while True:
            with self._changed:
                while not self._pending and not self._stopping:
                    self._changed.wait()
                if not self._pending:
                    if final_pass:
                        return
                    final_pass = True  # the watch has stopped: whatever differs from what was sent goes now
                    keys = {self._key(path) for path in self._files()}
                    self._pending.update(keys | (set(self._sent) - keys if self.mirror_deletes else set()))
                    continue
                key = self._pending.pop()
            self._sync(key)

    def _sync(self, key: str) -> None:
        path = self.root / key
        signature = _signature(path) if not path.is_symlink() else None
        try:
            if signature is None:  # gone: nothing left to send
                self._unsent.discard(key)
                if self.mirror_deletes and self._sent.pop(key, None) is not None:
                    self.destination.delete(key)
                return
            if self._sent.get(key) == signature:
                return
            started = time.monotonic()
            self.destination.put(path, key)
            self._sent[key] = signature
            self._unsent.discard(key)
            self.uploaded += 1
            log.debug("%s: %s uploaded in %.2f s", self.what, key, time.monotonic() - started)
        except FileNotFoundError:  # removed while being uploaded: its removal is noticed on its own
            return
        except Exception as exc:  # noqa: BLE001 - any failure of one upload is logged; the job goes on
            self.failed += 1
            self._sent.pop(key, None)
            self._unsent.add(key)
            self.last_error = str(exc)
            log.warning("%s: cannot upload %s to %s: %s", self.what, key, self.destination.uri, exc)


def _watch(root: Path, uploader: FolderUploader) -> BaseObserver:
    from watchdog.events import (
        DirCreatedEvent,
        DirMovedEvent,
        FileClosedEvent,
        FileDeletedEvent,
        FileMovedEvent,
        FileSystemEventHandler,
    )
    from watchdog.observers.inotify import InotifyObserver

    class Handler(FileSystemEventHandler):
        def on_closed(self, event: FileSystemEvent) -> None:
            if isinstance(event, FileClosedEvent):
                uploader.notice(os.fsdecode(event.src_path))

        def on_moved(self, event: FileSystemEvent) -> None:
            if event.src_path:  # moved within (or out of) the folder: the old name is gone
                uploader.notice(os.fsdecode(event.src_path), removed=True)
            if not event.dest_path:
                return
            if isinstance(event, DirMovedEvent):
                uploader.notice_tree(os.fsdecode(event.dest_path))
            elif isinstance(event, FileMovedEvent):
                uploader.notice(os.fsdecode(event.dest_path))

        def on_created(self, event: FileSystemEvent) -> None:
            # Files written into a new folder before its watch was added send no close event of their own. One
            # still open then is uploaded again, whole, at its close (the watch exists by then).
            if isinstance(event, DirCreatedEvent):
                uploader.notice_tree(os.fsdecode(event.src_path))

        def on_deleted(self, event: FileSystemEvent) -> None:
            if isinstance(event, FileDeletedEvent):
                uploader.notice(os.fsdecode(event.src_path), removed=True)

    # Full events: a file moved in from outside the folder is a move (not a creation, which comes before writing).
    observer = InotifyObserver(generate_full_events=True)
    observer.schedule(Handler(), str(root), recursive=True)
    observer.start()
    return observer
