"""Pipe mode's FIFOs: `<channel>_<epoch>` next to the channel's directory, epochs counted from 0.

The platform side (`PipeWriter`) creates `<channel>_0`, blocks until the job opens it, writes the epoch's bytes
and closes it (end of file for the reader), then does the same for `<channel>_1`, and so on. The job side
(`open_fifo`) waits for the FIFO to appear, opens it and reads to end of file or closes it early; `read_recordio`
decodes RecordIO records from such a stream as they arrive.
"""

from __future__ import annotations

import io
import logging
import os
import stat
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from smtoolkit.formats.recordio import read_framed

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

log = logging.getLogger(__name__)

POLL_INTERVAL = 0.1
_STOP_TIMEOUT = 5.0

# epoch -> the bytes of that epoch, in chunks
EpochSource = Callable[[int], Iterable[bytes]]


def fifo_path(channel_dir: Path, epoch: int) -> Path:
    """`<input data dir>/<channel>_<epoch>` for the channel directory `<input data dir>/<channel>`."""
    return channel_dir.with_name(f"{channel_dir.name}_{epoch}")


def wait_for_fifo(path: Path, timeout: float | None = None) -> None:
    """Poll until `path` exists (the next epoch's FIFO may not be there yet); TimeoutError after `timeout` s."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while not path.exists():
        if deadline is not None and time.monotonic() >= deadline:
            raise TimeoutError(f"{path}: the Pipe-mode FIFO did not appear within {timeout:g} s")
        time.sleep(POLL_INTERVAL)


def open_fifo(path: Path, timeout: float | None = None) -> BinaryIO:
    """Wait for the epoch's FIFO and open it for reading (buffered); close it when done."""
    wait_for_fifo(path, timeout)
    return path.open("rb")


def read_recordio(stream: BinaryIO) -> Iterator[bytes]:
    """The RecordIO records of a stream as they arrive, multi-part records joined; ValueError naming the offset."""
    for record in read_framed(stream):
        yield record.data


class _ConcatenatedFiles(io.RawIOBase):
    """The files' bytes one after the other, each opened only when reached."""

    def __init__(self, paths: Sequence[Path]) -> None:
        self._pending = list(paths)
        self._current: io.BufferedReader | None = None

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        while True:
            if self._current is None:
                if not self._pending:
                    return 0
                self._current = self._pending.pop(0).open("rb")
            count = self._current.readinto(buffer)
            if count:
                return count
            self._current.close()
            self._current = None

    def close(self) -> None:
        if self._current is not None:
            self._current.close()
            self._current = None
        super().close()


def concatenated(paths: Sequence[Path]) -> BinaryIO:
    """One buffered stream over several files (File-mode channels read like a Pipe-mode epoch)."""
    return io.BufferedReader(_ConcatenatedFiles(paths))


class PipeWriter:
    """Feeds one channel's FIFOs from a thread: epoch after epoch, until `epochs` are written or `stop()`.

    A reader that closes an epoch early is not an error (the protocol allows it); the next epoch follows.
    """

    def __init__(self, channel_dir: Path, source: EpochSource, epochs: int | None = None) -> None:
        self._channel_dir = channel_dir
        self._source = source
        self._epochs = epochs
        self._stopping = threading.Event()
        self._current: Path | None = None
        self.epochs_written = 0
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=f"pipe-{channel_dir.name}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = _STOP_TIMEOUT) -> None:
        """Stop after the current write; a writer waiting for its reader is released by opening the FIFO's
        read end here for a moment (the write end's open() then returns, and the writer sees the stop)."""
        self._stopping.set()
        deadline = time.monotonic() + timeout
        while self._thread.is_alive() and time.monotonic() < deadline:
            unblocker = None
            if self._current is not None:
                try:
                    unblocker = os.open(self._current, os.O_RDONLY | os.O_NONBLOCK)
                except OSError:
                    unblocker = None
            self._thread.join(0.05)
            if unblocker is not None:
                os.close(unblocker)
        if self._thread.is_alive():
            log.warning("the Pipe-mode writer of %s did not stop within %.1f s", self._channel_dir.name, timeout)

    def _run(self) -> None:
        epoch = 0
        try:
            while not self._stopping.is_set() and (self._epochs is None or epoch < self._epochs):
                self._write_epoch(epoch)
                epoch += 1
        except BaseException as exc:  # reported by the owner through .error
            log.error("Pipe-mode writer for %s failed: %s", self._channel_dir.name, exc)
            self.error = exc

    def _write_epoch(self, epoch: int) -> None:
        path = fifo_path(self._channel_dir, epoch)
        if not (path.exists() and stat.S_ISFIFO(path.stat().st_mode)):
            os.mkfifo(path, 0o644)
        self._current = path
        fd = os.open(path, os.O_WRONLY)  # blocks until the job opens the epoch (or stop() releases it)
        try:
            if self._stopping.is_set():
                return
            for chunk in self._source(epoch):
                _write_all(fd, chunk)
                if self._stopping.is_set():
                    return
            self.epochs_written += 1
            log.debug("wrote epoch %d of %s", epoch, self._channel_dir.name)
        except BrokenPipeError:
            log.info("the job closed %s before its end", path.name)
        finally:
            os.close(fd)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
