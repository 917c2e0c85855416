"""Processing outputs: each host's output directory put at the output's S3Uri (a local dir or s3:// prefix).

EndOfJob: once, after the job (also after a failure, so that partial results can be inspected). Continuous (the
platform's trigger is undocumented): while the job runs, every `interval` seconds, each regular file that is new
or changed (size or mtime) since it was last put, then once more after the job. Symbolic links are not followed.
Several hosts put their files under the same prefix, so equal names overwrite each other.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from smtoolkit.local.store import ObjectStore
from smtoolkit.storage import join_uri

log = logging.getLogger(__name__)

CONTINUOUS_INTERVAL = 1.0


class OutputSync:
    """Puts the new and changed files of one local output dir at its destination."""

    def __init__(self, store: ObjectStore, local_dir: Path, uri: str) -> None:
        self._store = store
        self._local_dir = local_dir
        self._uri = uri
        self._seen: dict[Path, tuple[int, int]] = {}
        self._lock = threading.Lock()
        self.files_put = 0

    def sync(self) -> int:
        """Put what is new or changed; returns how many files were put."""
        with self._lock:
            count = 0
            for path in sorted(self._local_dir.rglob("*")) if self._local_dir.is_dir() else []:
                if path.is_symlink() or not path.is_file():
                    continue
                stat = path.stat()
                signature = (stat.st_size, stat.st_mtime_ns)
                if self._seen.get(path) == signature:
                    continue
                self._store.put(path, join_uri(self._uri, path.relative_to(self._local_dir).as_posix()))
                self._seen[path] = signature
                count += 1
            self.files_put += count
            return count


class ContinuousUpload:
    """Runs an OutputSync every `interval` seconds in a thread until `stop()`, which syncs a last time."""

    def __init__(self, sync: OutputSync, interval: float = CONTINUOUS_INTERVAL) -> None:
        self._sync = sync
        self._interval = interval
        self._stopping = threading.Event()
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="continuous-upload", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join()
        self._sync.sync()

    def _run(self) -> None:
        while not self._stopping.wait(self._interval):
            try:
                self._sync.sync()
            except Exception as exc:  # reported once the job ends; the final sync tries again
                log.warning("continuous upload failed: %s", exc)
                self.error = exc
