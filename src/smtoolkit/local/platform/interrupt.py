"""Ctrl-C and SIGTERM for a job driven from this process's main thread (a local transform job).

While the job runs (`armed`), the first SIGINT/SIGTERM raises JobInterrupted where the main thread is, as
KeyboardInterrupt would, so the job unwinds through its `finally` blocks (the model server is stopped, finished
outputs are kept). Later signals, and any signal once disarmed, only set `hurry`: the server is then killed
without waiting out the grace period.
"""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType, TracebackType
from typing import Any

from smtoolkit.proc.signals import install_handlers, restore_handlers, signal_name
from smtoolkit.proc.stop import Hurry

log = logging.getLogger(__name__)

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class JobInterrupted(BaseException):  # like KeyboardInterrupt: not an error of the job
    """Raised in the main thread by the first stop signal."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"stopped by {signal_name(signum)}")
        self.signum = signum


class StopSignals:
    """A context manager; in any thread but the main one it does nothing (signals cannot be handled there)."""

    def __init__(self) -> None:
        self.received: int | None = None
        self.hurry = Hurry()  # what stopping the model server also waits on
        self.armed = True
        self._previous: dict[int, Any] = {}

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        if self.received is None and self.armed:
            self.received = signum
            log.warning("received %s: stopping the job", signal_name(signum))
            raise JobInterrupted(signum)
        self.hurry.set()
        log.warning("received %s: not waiting for the model server any longer", signal_name(signum))

    def disarm(self) -> None:
        self.armed = False

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is threading.main_thread():
            self._previous = install_handlers(STOP_SIGNALS, self._on_signal)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        restore_handlers(self._previous)
        self.hurry.close()
