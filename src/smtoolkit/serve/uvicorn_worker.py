"""The async worker class: uvicorn (uvloop, httptools) under gunicorn, which stays the process manager
(preload before fork, worker replacement, graceful SIGTERM). Imported by gunicorn only when it is chosen."""

from __future__ import annotations

import logging
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
    CONFIG_KWARGS: dict[str, Any] = {  # noqa: RUF012  # the base class's way of configuring uvicorn
        "loop": "uvloop",
        "http": "httptools",
        "lifespan": "off",
        "server_header": False,
    }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.config.timeout_graceful_shutdown = self.cfg.graceful_timeout
        logging.getLogger("uvicorn.access").addFilter(_NoPing())
        quiet_stream_aborts("uvicorn.error")
