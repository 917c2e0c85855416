"""`serve`: gunicorn (through its BaseApplication API) running the app of serve.app on a WSGI or ASGI worker.

The model is loaded in the master before the workers fork, so they share it copy-on-write, unless
SAGEMAKER_PRELOAD_MODEL=false asks for one load per worker. SIGTERM stops gracefully: workers finish their
requests (SAGEMAKER_MODEL_SERVER_GRACEFUL_TIMEOUT) and the exit status is 0. The command itself (settings, plan,
start-up effects) is serve.execute's.
"""

from __future__ import annotations

import logging
import socket
import time
from pathlib import Path
from typing import Any

from gunicorn.app.base import BaseApplication  # type: ignore[import-untyped]
from gunicorn.errors import HaltServer  # type: ignore[import-untyped]
from gunicorn.glogging import Logger as GunicornLogger  # type: ignore[import-untyped]

from smtoolkit.config.serving import ServingSettings
from smtoolkit.errors import ConfigError
from smtoolkit.logs import masked
from smtoolkit.serve.adapters.wsgi import wsgi_app
from smtoolkit.serve.app import Protocols, create_app
from smtoolkit.serve.batching.handler import warn_if_unused, with_batching_concurrency
from smtoolkit.serve.codecs.registry import default_codecs
from smtoolkit.serve.core.router import Router
from smtoolkit.serve.core.streams import quiet_stream_aborts
from smtoolkit.serve.handlers import load_script_handlers
from smtoolkit.serve.hosting.listen import gunicorn_bind
from smtoolkit.serve.hosting.startup import freeze_startup_objects, load_in_background, load_while_answering
from smtoolkit.serve.pipeline import InferenceHandler

logger = logging.getLogger(__name__)

GUNICORN_WORKER_CLASSES = {
    "sync": "sync",
    "gthread": "gthread",
    "async": "smtoolkit.serve.adapters.uvicorn_worker.AsyncWorker",
}
SHM_DIR = Path("/dev/shm")  # the workers' heartbeat files: memory-backed, so a slow disk cannot stall them


class PingQuietLogger(GunicornLogger):  # type: ignore[misc]  # gunicorn ships no type hints
    """gunicorn's logger, writing no access-log line for /ping (the platform pings every few seconds)."""

    def access(self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any) -> None:
        if environ.get("PATH_INFO") != "/ping":
            super().access(resp, req, environ, request_time)


def gunicorn_options(settings: ServingSettings) -> dict[str, Any]:
    """The gunicorn settings `serve` uses, from ServingSettings (pure; settings unknown to an older
    gunicorn are skipped when applied)."""
    address = settings.bind_to_address
    host = f"[{address}]" if ":" in address else address
    return {
        "bind": [f"{host}:{settings.bind_to_port}"],
        "workers": settings.workers(),
        "worker_class": GUNICORN_WORKER_CLASSES[settings.model_server_worker_class],
        "threads": settings.model_server_threads,
        "timeout": settings.timeout,
        "graceful_timeout": settings.model_server_graceful_timeout,
        "keepalive": 5,
        "preload_app": False,  # the model is preloaded by the when_ready hook instead
        "loglevel": logging.getLevelName(settings.container_log_level).lower(),
        "accesslog": "-" if settings.model_server_access_log else None,
        "logger_class": PingQuietLogger,
        "errorlog": "-",
        "proc_name": "smtoolkit-serve",
        "control_socket_disable": True,
        "worker_tmp_dir": str(SHM_DIR) if SHM_DIR.is_dir() else None,
    }


def configure_gunicorn(cfg: Any, settings: ServingSettings, bind: list[str] | None = None) -> None:
    """gunicorn's config set from `settings` (options an older gunicorn lacks are skipped), its `bind` replaced
    by `bind` when given (serve.hosting.listen.gunicorn_bind: the socket serve opened), and the start-up objects frozen
    before each fork (startup.freeze_startup_objects)."""
    for key, value in {**gunicorn_options(settings), **({"bind": bind} if bind else {})}.items():
        if key in cfg.settings:
            cfg.set(key, value)
    cfg.set("pre_fork", _freeze_before_fork)


def _freeze_before_fork(arbiter: Any, worker: Any) -> None:
    freeze_startup_objects()


class InferenceServer(BaseApplication):  # type: ignore[misc]  # gunicorn ships no type hints
    """gunicorn configured from ServingSettings, serving one InferenceHandler."""

    def __init__(
        self,
        settings: ServingSettings,
        handler: InferenceHandler,
        protocols: Protocols | None = None,
        listener: socket.socket | None = None,
    ) -> None:
        self.bind = gunicorn_bind(listener) if listener else None  # the socket serve opened, else gunicorn binds
        self.settings = settings
        self.handler = handler
        self.app = create_app(handler, settings, protocols)  # in the master: a bad route stops serve at start-up
        self.fetch_model = protocols.fetch_model if protocols else None
        super().__init__()

    def load_config(self) -> None:
        configure_gunicorn(self.cfg, self.settings, self.bind)
        if self.settings.preload_model or self.fetch_model:
            self.cfg.set("when_ready", self.load_model_in_master)

    def start_up(self) -> None:
        """The model fetched (if it comes from elsewhere), then loaded unless each worker loads its own."""
        if self.fetch_model:
            self.fetch_model()
        if self.settings.preload_model:
            self.handler.load_model()

    def load_model_in_master(self, arbiter: Any) -> None:
        """when_ready hook: the sockets listen, no worker exists yet; load the model, answering 503."""
        sockets = [getattr(listener, "sock", listener) for listener in arbiter.LISTENERS]
        started = time.monotonic()
        if not load_while_answering(self.start_up, sockets, self.settings.startup_timeout):
            logger.info("Stopped by a signal while loading the model")
            raise SystemExit(0)
        logger.info("Model loaded in %.1f s; starting %d workers", time.monotonic() - started, arbiter.num_workers)

    def _load_in_worker(self) -> None:
        self.handler.load_model()
        freeze_startup_objects()

    def load(self) -> Any:
        """Called in each worker after the fork: the app for the worker's transport (WSGI or ASGI)."""
        if not self.settings.preload_model:
            load_in_background(self._load_in_worker, lambda: self.handler.ready, self.settings.startup_timeout)
        return on_transport(self.app, self.settings)


def on_transport(app: Router, settings: ServingSettings) -> Any:
    """In a worker: `app` on the worker class's transport (ASGI for async, else WSGI)."""
    quiet_stream_aborts("gunicorn.error")
    if settings.model_server_worker_class == "async":
        from smtoolkit.serve.adapters.asgi import ASGIAdapter

        return ASGIAdapter(app, settings.model_server_threads, settings.timeout, settings.model_server_inline_calls)
    return wsgi_app(app)


def run_server(
    settings: ServingSettings,
    script: Path | None,
    model_dir: Path,
    protocols: Protocols | None = None,
    listener: socket.socket | None = None,
) -> int:
    """Import and check the inference script, then serve until stopped (on `listener`, the socket of
    serve.hosting.listen.open_listener, when given). Returns the exit status; raises SmtoolkitError for a
    problem found before serving. A multi-model endpoint may have no script of its own."""
    user = load_script_handlers(script) if script is not None else None
    if user is not None:
        warn_if_unused(settings, user.batch_predict_fn, user.source)
        settings = with_batching_concurrency(settings, user.batch_predict_fn, user.source)
    logger.info("Serving settings: %s", masked(settings.model_dump(mode="json")))
    if settings.multi_model:
        from smtoolkit.serve.hosting.multimodel import MultiModelServer

        return run_application(MultiModelServer(settings, user, listener))
    if user is None:
        raise ConfigError.single("serve", "no inference script to serve (set SAGEMAKER_PROGRAM)")
    codecs = default_codecs()
    handler = InferenceHandler(user, model_dir, codecs, settings.default_invocations_accept, settings)
    return run_application(InferenceServer(settings, handler, protocols, listener))


def run_application(application: BaseApplication) -> int:
    """Run gunicorn until it stops; its exit status."""
    try:
        application.run()
    except SystemExit as exit_:  # gunicorn ends the master (and each worker) with sys.exit
        return exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
    except HaltServer as halt:  # raised again while halting when several workers fail to boot
        logger.error("Stopped: %s", halt.reason)
        return int(halt.exit_status)
    return 0
