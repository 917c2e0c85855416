"""Relays a child's stderr pipe to our fd 2 byte for byte, as soon as bytes arrive, keeping a bounded tail.

No decoding, no line splitting, no buffering: the sink gets exactly what the child wrote, when it wrote it.
"""

from __future__ import annotations

import logging
import os
import select
import threading

log = logging.getLogger(__name__)

_CHUNK = 64 * 1024
# Once asked to stop, take at most this much more from a writer that keeps writing.
_DRAIN_LIMIT = 4 * 1024 * 1024
_SINK_WAIT_MS = 1000


class StreamRelay:
    """Copies what `source` yields to `sink` in a daemon thread and keeps the last `tail_bytes` of it.

    Owns `source` (set non-blocking here, closed by `finish`). A broken sink stops the copying but not the
    reading, so the child never blocks on a full pipe and the tail stays complete.
    """

    def __init__(self, source: int, sink: int = 2, *, tail_bytes: int = 64 * 1024) -> None:
        self._source = source
        self._sink: int | None = sink
        self._tail_limit = max(tail_bytes, 0)
        self._tail = bytearray()
        self._stop_r, self._stop_w = os.pipe()
        os.set_blocking(source, False)
        self._thread = threading.Thread(target=self._run, name="smtoolkit-stderr-relay", daemon=True)

    def start(self) -> None:
        self._thread.start()

    @property
    def tail(self) -> bytes:
        return bytes(self._tail)

    def finish(self, timeout: float) -> bytes:
        """Wait up to `timeout` s for end of file, then take what is already in the pipe and stop.

        End of file needs every writer gone; a process that escaped the child's group may hold the pipe
        open forever, hence the bound. Returns the tail.
        """
        self._thread.join(timeout)
        if self._thread.is_alive():
            log.warning("stderr still open %.1fs after the child exited; dropping the rest", timeout)
            os.write(self._stop_w, b"\0")
            self._thread.join(timeout)
        if self._thread.is_alive():
            # Stuck writing to our own stderr: leave the thread its fds rather than close them under it.
            log.warning("stderr relay is blocked writing; leaving it behind")
        else:
            for fd in (self._source, self._stop_r, self._stop_w):
                os.close(fd)
        return self.tail

    def _run(self) -> None:
        poller = select.poll()
        poller.register(self._source, select.POLLIN)
        poller.register(self._stop_r, select.POLLIN)
        while True:
            ready = {fd for fd, _ in poller.poll()}
            if self._stop_r in ready:
                self._drain()
                return
            if self._source in ready and not self._pump():
                return

    def _pump(self) -> bool:
        """Relay one read's worth; False at end of file."""
        try:
            data = os.read(self._source, _CHUNK)
        except BlockingIOError:
            return True
        if data:
            self._emit(data)
        return bool(data)

    def _drain(self) -> None:
        taken = 0
        while taken < _DRAIN_LIMIT:
            try:
                data = os.read(self._source, _CHUNK)
            except BlockingIOError:
                return
            if not data:
                return
            self._emit(data)
            taken += len(data)

    def _emit(self, data: bytes) -> None:
        if self._tail_limit:
            self._tail += data
            excess = len(self._tail) - self._tail_limit
            if excess > 0:
                del self._tail[:excess]
        if self._sink is not None:
            self._write_all(self._sink, data)

    def _write_all(self, sink: int, data: bytes) -> None:
        view = memoryview(data)
        while view:
            try:
                written = os.write(sink, view)
            except BlockingIOError:  # someone left our stderr non-blocking
                _wait_writable(sink)
                continue
            except OSError as exc:
                log.debug("stderr sink fd %d failed (%s); keeping only the tail from now on", sink, exc)
                self._sink = None
                return
            view = view[written:]


def _wait_writable(fd: int) -> None:
    poller = select.poll()
    poller.register(fd, select.POLLOUT)
    poller.poll(_SINK_WAIT_MS)
