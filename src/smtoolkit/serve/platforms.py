"""Start-up for the platforms besides SageMaker: which protocols to speak, Vertex AI's port, and where its model
comes from (AIP_STORAGE_URI, fetched in the master before the workers fork, while the server answers 503)."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import replace
from functools import partial
from pathlib import Path

from smtoolkit import storage
from smtoolkit.config.serving import ServingSettings
from smtoolkit.serve.app import Protocols, choose_protocols
from smtoolkit.serve.protocols.vertex.model import GS_SCHEME, fetch_model
from smtoolkit.serve.protocols.vertex.settings import load_vertex_settings

logger = logging.getLogger(__name__)

PORT_VARIABLE = "SAGEMAKER_BIND_TO_PORT"
OIP_VARIABLES = ("SMTOOLKIT_OIP_MODEL_NAME", "SMTOOLKIT_OIP_MODEL_VERSION")
VERTEX_VARIABLES = ("AIP_HTTP_PORT", "AIP_HEALTH_ROUTE", "AIP_PREDICT_ROUTE", "AIP_STORAGE_URI")


def protocols_from_environment(settings: ServingSettings, model_dir: Path) -> tuple[ServingSettings, Protocols, Path]:
    """(settings, protocols, model dir) to serve with: on Vertex AI the port is AIP_HTTP_PORT and the model is
    AIP_STORAGE_URI's, fetched now; ConfigError naming a bad AIP_* variable."""
    protocols = choose_protocols(settings, load_vertex_settings())
    vertex = protocols.vertex
    if vertex is not None:
        port = vertex.http_port
        if PORT_VARIABLE in os.environ and settings.bind_to_port != port:
            logger.warning(
                "Vertex AI listens on AIP_HTTP_PORT=%d; %s=%d is not used", port, PORT_VARIABLE, settings.bind_to_port
            )
        settings = settings.model_copy(update={"bind_to_port": port})
        model_dir, fetch = model_source(vertex.storage_uri, model_dir)
        protocols = replace(protocols, fetch_model=fetch)
        logger.info("Vertex AI: health GET %s, predictions POST %s", vertex.health_path, vertex.predict_path)
    warn_unused(protocols)
    logger.info("Serving protocols: %s on port %d", ", ".join(protocols.names), settings.bind_to_port)
    return settings, protocols, model_dir


def model_source(storage_uri: str | None, model_dir: Path) -> tuple[Path, Callable[[], object] | None]:
    """(the folder model_fn reads, what fills it at start-up): a gs:// URI or a local tarball is fetched into
    `model_dir` later (while the server answers 503); a local folder is used in place; a bad URI is a ConfigError
    now."""
    if storage_uri and (storage_uri.lower().startswith(GS_SCHEME) or _local_file(storage_uri)):
        return model_dir, partial(fetch_model, storage_uri, model_dir)
    return fetch_model(storage_uri, model_dir), None


def _local_file(uri: str) -> bool:
    return ("://" not in uri or uri.lower().startswith(storage.FILE_SCHEME)) and storage.local_path(uri).is_file()


def warn_unused(protocols: Protocols) -> list[str]:
    """Warn about each variable set for a protocol that is off (it would be ignored silently); their names."""
    unused = []
    if not protocols.oip:
        unused += [name for name in OIP_VARIABLES if name in os.environ]
    if protocols.vertex is None:
        unused += [name for name in VERTEX_VARIABLES if name in os.environ]
    for name in unused:
        logger.warning(
            "%s is set but unused: serving %s (add the protocol to SMTOOLKIT_SERVE_PROTOCOLS)",
            name,
            ", ".join(protocols.names),
        )
    return unused
