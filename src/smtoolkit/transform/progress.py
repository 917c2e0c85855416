"""What a running transform job says: a one-line progress bar on a terminal, log lines otherwise, and the
summary at the end."""

from __future__ import annotations

import logging
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import TextIO

from smtoolkit.transform.assemble import FileOutcome

logger = logging.getLogger(__name__)

TTY_INTERVAL_S = 0.5
LOG_INTERVAL_S = 15.0


def _size(count: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if count < 1024 or unit == "GiB":
            return f"{count:.1f} {unit}" if unit != "B" else f"{count:.0f} B"
        count /= 1024
    return f"{count:.1f} GiB"  # pragma: no cover


@dataclass
class Summary:
    files: int
    outcomes: list[FileOutcome]
    seconds: float

    @property
    def failed(self) -> list[FileOutcome]:
        return [outcome for outcome in self.outcomes if outcome.error is not None]

    @property
    def records(self) -> int:
        return sum(outcome.records for outcome in self.outcomes if outcome.error is None)

    @property
    def bytes_in(self) -> int:
        return sum(outcome.bytes_in for outcome in self.outcomes if outcome.error is None)

    @property
    def ok(self) -> bool:
        return not self.failed and len(self.outcomes) == self.files

    def lines(self) -> list[str]:
        rate = self.records / self.seconds if self.seconds > 0 else 0.0
        lines = [
            f"{self.files - len(self.failed)} of {self.files} files transformed, {self.records} records, "
            f"{_size(self.bytes_in)} in {self.seconds:.1f} s ({rate:.0f} records/s)"
        ]
        lines += [f"FAILED {outcome.file.relative}: {outcome.error}" for outcome in self.failed]
        return lines


@dataclass
class Progress:
    """Counters the workers update; `start()` runs a reporter thread until `stop()`."""

    total_files: int
    total_bytes: int | None
    stream: TextIO = field(default_factory=lambda: sys.stderr)
    files_done: int = 0
    files_failed: int = 0
    records: int = 0
    bytes_in: int = 0
    started: float = field(default_factory=time.monotonic)
    lock: threading.Lock = field(default_factory=threading.Lock)
    _stopped: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def batch_done(self, records: int, size: int) -> None:
        with self.lock:
            self.records += records
            self.bytes_in += size

    def file_done(self, outcome: FileOutcome) -> None:
        with self.lock:
            self.files_done += 1
            self.files_failed += outcome.error is not None
        if outcome.error is not None:
            logger.error("%s failed: %s", outcome.file.relative, outcome.error)

    def line(self) -> str:
        elapsed = max(time.monotonic() - self.started, 1e-9)
        total = f" of {_size(self.total_bytes)}" if self.total_bytes else ""
        return (
            f"files {self.files_done}/{self.total_files} ({self.files_failed} failed), records {self.records} "
            f"({self.records / elapsed:.0f}/s), {_size(self.bytes_in)}{total}"
        )

    def start(self, interactive: bool) -> None:
        self._thread = threading.Thread(target=self._report, args=(interactive,), name="progress", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        if self._thread is not None:
            self._thread.join()

    def _report(self, interactive: bool) -> None:
        interval = TTY_INTERVAL_S if interactive else LOG_INTERVAL_S
        while not self._stopped.wait(interval):
            if interactive:
                self.stream.write("\r\x1b[K" + self.line())
                self.stream.flush()
            else:
                logger.info("Progress: %s", self.line())
        if interactive:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
