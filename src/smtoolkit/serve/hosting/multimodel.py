"""`serve` for a multi-model endpoint (SAGEMAKER_MULTI_MODEL=true): gunicorn running the /models routes.

The master creates the store every worker shares (serve.protocols.multimodel.store) once its sockets listen
and before any worker forks, measuring the server's own memory for the budget; it removes the store when it
exits. Each worker builds its own ModelRegistry on that store and watches it, so a load or an unload made
through one worker holds for every worker.
"""

from __future__ import annotations

import logging
import os
import socket
from typing import Any

from gunicorn.app.base import BaseApplication  # type: ignore[import-untyped]

from smtoolkit.config.launcher import LauncherSettings
from smtoolkit.config.protocols import OIP, VERTEX
from smtoolkit.config.serving import ServingSettings
from smtoolkit.serve.codecs.registry import default_codecs
from smtoolkit.serve.core.router import Router
from smtoolkit.serve.handlers import UserHandlers
from smtoolkit.serve.hosting.listen import gunicorn_bind
from smtoolkit.serve.hosting.server import configure_gunicorn, on_transport
from smtoolkit.serve.platforms import OIP_VARIABLES
from smtoolkit.serve.protocols.multimodel import memory
from smtoolkit.serve.protocols.multimodel.loader import ModelLoader
from smtoolkit.serve.protocols.multimodel.registry import ModelRegistry
from smtoolkit.serve.protocols.multimodel.requirements import RequirementsInstaller
from smtoolkit.serve.protocols.multimodel.routes import MultiModelProtocol
from smtoolkit.serve.protocols.multimodel.store import SharedStore

logger = logging.getLogger(__name__)

WATCH_INTERVAL_S = 0.5  # an idle worker frees an unloaded model within this


class MultiModelServer(BaseApplication):  # type: ignore[misc]  # gunicorn ships no type hints
    """gunicorn configured from ServingSettings, serving the models loaded at run time; `endpoint` is the
    endpoint's own script (None: every model must bring its code/inference.py)."""

    def __init__(
        self, settings: ServingSettings, endpoint: UserHandlers | None, listener: socket.socket | None = None
    ) -> None:
        self.bind = gunicorn_bind(listener) if listener else None  # the socket serve opened, else gunicorn binds
        self.settings = settings
        self.endpoint = endpoint
        self.store: SharedStore | None = None
        self.budget = memory.budget_bytes(settings)
        log_protocols(settings.serve_protocols)
        super().__init__()

    def load_config(self) -> None:
        configure_gunicorn(self.cfg, self.settings, self.bind)
        self.cfg.set("when_ready", self.create_store)
        self.cfg.set("on_exit", self.discard_store)

    def create_store(self, arbiter: Any) -> None:
        """when_ready hook (the master, before the fork): the shared store, with the server's own memory."""
        workers = arbiter.num_workers
        self.store = SharedStore.create(workers, memory.server_baseline(workers))
        logger.info(
            "Multi-model endpoint: store %s, memory budget %.0f MiB for %d workers",
            self.store.root,
            self.budget / memory.MEBIBYTE,
            workers,
        )

    def discard_store(self, arbiter: Any) -> None:
        """on_exit hook (the master, its workers gone)."""
        if self.store is not None:
            self.store.discard()
            self.store = None

    def load(self) -> Any:
        """Called in each worker after the fork: a registry on the shared store, the routes on its transport."""
        if self.store is None:
            raise RuntimeError("the multi-model store was not created before the workers started")
        store = SharedStore(self.store.root)  # this process's own mapping of the counter
        registry = ModelRegistry(store, self.loader(store), self.budget)
        registry.watch(WATCH_INTERVAL_S)
        app = Router(self.settings.max_payload_bytes).mount(MultiModelProtocol(registry))
        if OIP in self.settings.serve_protocols:
            mount_open_inference(app, registry, self.settings.max_payload_bytes)
        return on_transport(app, self.settings)

    def loader(self, store: SharedStore) -> ModelLoader:
        installer = RequirementsInstaller(store.root / "installs", LauncherSettings.from_environ(), dict(os.environ))
        settings = self.settings
        return ModelLoader(self.endpoint, default_codecs(), settings.default_invocations_accept, installer, settings)


def mount_open_inference(app: Router, registry: ModelRegistry, limit: int | None) -> None:
    """The Open Inference Protocol's routes for every model of `registry`, and its model repository extension."""
    from smtoolkit.serve.protocols.oip.repository import ModelRepository, RegistryModels
    from smtoolkit.serve.protocols.oip.routes import OpenInferenceProtocol

    app.mount(OpenInferenceProtocol(RegistryModels(registry), limit)).mount(ModelRepository(registry))


def log_protocols(chosen: tuple[str, ...]) -> None:
    """Say what a multi-model endpoint serves of SMTOOLKIT_SERVE_PROTOCOLS: OIP, not Vertex AI (one model only)."""
    if VERTEX in chosen:
        logger.warning("SMTOOLKIT_SERVE_PROTOCOLS names vertex: a multi-model endpoint does not serve Vertex AI")
    for name in OIP_VARIABLES:
        if name in os.environ:
            logger.warning("%s is set but unused: on a multi-model endpoint each model answers by its own name", name)
    logger.info("Multi-model endpoint protocols: %s", ", ".join(["sagemaker", *([OIP] if OIP in chosen else [])]))
