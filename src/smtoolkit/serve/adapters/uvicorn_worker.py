"""The async worker class: uvicorn (uvloop, httptools) under gunicorn, which stays the process manager
(preload before fork, worker replacement, graceful SIGTERM). Imported by gunicorn only when it is chosen."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from typing import Any

from uvicorn_worker import UvicornWorker  # type: ignore[import-untyped]

from smtoolkit.serve.core.streams import quiet_stream_aborts


class _NoPing(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        return not (
            isinstance(args, tuple) and len(args) > 2 and args[2] == "/ping"
        )  # uvicorn: (client, method, path, ...)


class AsyncWorker(UvicornWorker):  # type: ignore[misc]  # gunicorn ships no type hints
    sockets: list[Any]  # the listeners, set by gunicorn's Worker
    CONFIG_KWARGS: dict[str, Any] = {  # noqa: RUF012  # the base class's way of configuring uvicorn
        "loop": "uvloop",
        "http": "httptools",
        "lifespan": "off",
        "server_header": False,
        # No X-Forwarded-* rewriting of the client's address: nothing here reads it, the access log then shows
        # the peer as gunicorn's own classes do, and the middleware cost 2-5% of a small request's CPU.
        "proxy_headers": False,
    }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.config.timeout_graceful_shutdown = self.cfg.graceful_timeout
        logging.getLogger("uvicorn.access").addFilter(_NoPing())
        quiet_stream_aborts("uvicorn.error")

    def run(self) -> None:
        # uvloop detaches a socket.socket it serves on, but closes the descriptor under gunicorn's wrapper,
        # whose close then logged "Error while closing socket [Errno 9]" at each shutdown: give it the sockets
        self.sockets = [getattr(listener, "sock", listener) for listener in self.sockets]
        super().run()

    def init_signals(self) -> None:
        super().init_signals()
        signal.signal(signal.SIGQUIT, self.quit_now)  # while booting too (the base class leaves the default)

    def _install_sigquit_handler(self) -> None:
        # gunicorn's quick shutdown (SIGINT or SIGQUIT to the master) sends the workers SIGQUIT. The base class's
        # handler only clears `alive`, which uvicorn never reads: the worker waited out the graceful timeout and
        # was SIGKILLed ("Perhaps out of memory?").
        asyncio.get_running_loop().add_signal_handler(signal.SIGQUIT, self.quit_now)

    def quit_now(self, *signal_args: object) -> None:
        """Quit at once, as gunicorn's own workers do on SIGQUIT. A thread running user code cannot be stopped,
        and exiting normally would join it, so the process ends without that."""
        self.alive = False
        self.cfg.worker_int(self)
        logging.shutdown()  # flushes every handler
        os._exit(0)
