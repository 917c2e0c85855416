"""Trapping what a supervisor forwards, queued for its loop; the previous handlers restored after."""

from __future__ import annotations

import os
import select
import signal
import threading
from collections import deque
from collections.abc import Callable, Iterable
from types import FrameType, TracebackType
from typing import Any

from smtoolkit.errors import LaunchError

Handler = Callable[[int, FrameType | None], Any]

# Forwarded to the child's group as they come; the stopping ones also start the grace clock.
FORWARDED: tuple[signal.Signals, ...] = (
    signal.SIGTERM,
    signal.SIGINT,
    signal.SIGHUP,
    signal.SIGQUIT,
    signal.SIGUSR1,
    signal.SIGUSR2,
)
STOPPING = frozenset({signal.SIGTERM, signal.SIGINT})


class SignalTrap:
    """While entered, `FORWARDED` signals are queued for `take()`, and they and SIGCHLD wake `wait()`.

    Python runs handlers in the main thread only, so entering from any other thread raises LaunchError.
    """

    def __init__(self) -> None:
        self._pending: deque[int] = deque()
        self._previous: dict[int, Any] = {}
        self._previous_wakeup = -1
        self._wake_r = self._wake_w = -1

    def __enter__(self) -> SignalTrap:
        if threading.current_thread() is not threading.main_thread():
            raise LaunchError(
                "the training process can only be supervised from the main thread "
                "(Python lets only the main thread handle signals)"
            )
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self._previous_wakeup = signal.set_wakeup_fd(self._wake_w, warn_on_full_buffer=False)
        self._previous = install_handlers((*FORWARDED, signal.SIGCHLD), self._on_signal)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        restore_handlers(self._previous)
        signal.set_wakeup_fd(self._previous_wakeup)
        os.close(self._wake_r)
        os.close(self._wake_w)

    def take(self) -> list[int]:
        """The forwarded signals received since the last call, oldest first (SIGCHLD is not reported)."""
        taken: list[int] = []
        while self._pending:
            taken.append(self._pending.popleft())
        return taken

    def wait(self, timeout: float) -> None:
        """Sleep until a trapped signal arrives or `timeout` seconds pass."""
        poller = select.poll()
        poller.register(self._wake_r, select.POLLIN)
        if poller.poll(max(timeout, 0.0) * 1000):
            try:
                while os.read(self._wake_r, 512):
                    pass
            except BlockingIOError:
                pass

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        if signum != signal.SIGCHLD:
            self._pending.append(signum)


def signal_name(signum: int) -> str:
    """`SIGTERM` for 15; `signal 40` for a number without a name."""
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


def install_handlers(signums: Iterable[int], handler: Handler) -> dict[int, Any]:
    """`handler` for each of `signums` (main thread only); returns the previous handlers for restore_handlers."""
    return {signum: signal.signal(signum, handler) for signum in signums}


def restore_handlers(previous: dict[int, Any]) -> None:
    """Put back what install_handlers replaced, and forget it."""
    for signum, handler in previous.items():
        # None: the old handler was installed from C and cannot be put back from Python.
        signal.signal(signum, signal.SIG_DFL if handler is None else handler)
    previous.clear()
