"""Start-up for the platforms besides SageMaker: which protocols to speak, Vertex AI's port, where its model
comes from (AIP_STORAGE_URI, fetched in the master before the workers fork, while the server answers 503), and
KServe's model folder (/mnt/models) with the Open Inference Protocol on.
Planned here (pure); the fetch is done by serve.execute."""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from smtoolkit import storage
from smtoolkit.config.serving import MEBIBYTE, ServingSettings
from smtoolkit.serve.app import Protocols, choose_protocols
from smtoolkit.serve.protocols.vertex.model import GS_SCHEME, fetch_model
from smtoolkit.serve.protocols.vertex.settings import VertexSettings

logger = logging.getLogger(__name__)

PORT_VARIABLE = "SAGEMAKER_BIND_TO_PORT"
PAYLOAD_VARIABLE = "SAGEMAKER_MAX_PAYLOAD_IN_MB"
OIP_VARIABLES = ("SMTOOLKIT_OIP_MODEL_NAME", "SMTOOLKIT_OIP_MODEL_VERSION", "SMTOOLKIT_KSERVE_MODEL_DIR")
VERTEX_VARIABLES = (
    "AIP_HTTP_PORT",
    "AIP_HEALTH_ROUTE",
    "AIP_PREDICT_ROUTE",
    "AIP_STORAGE_URI",
    "SMTOOLKIT_VERTEX_MAX_REQUEST_MB",
)


@dataclass(frozen=True)
class ModelSource:
    """The folder model_fn reads, and the URI (Vertex AI's AIP_STORAGE_URI) fetched into it at start-up while the
    server answers 503; `fetch` False: the folder is used as it is."""

    directory: Path
    uri: str | None = None
    fetch: bool = False

    def fetcher(self) -> Callable[[], object] | None:
        """What fills the folder at start-up, None when nothing is fetched."""
        return partial(fetch_model, self.uri, self.directory) if self.fetch else None


def plan_protocols(
    settings: ServingSettings, model_dir: Path, environ: Mapping[str, str] | None = None
) -> tuple[ServingSettings, Protocols, ModelSource]:
    """(settings, protocols, model) to serve with: on Vertex AI the port is AIP_HTTP_PORT and the model is
    AIP_STORAGE_URI's (fetched later, by execute); ConfigError naming a bad AIP_* variable. Fetches nothing."""
    environ = os.environ if environ is None else environ
    protocols = choose_protocols(settings, VertexSettings.from_environ(environ))
    vertex = protocols.vertex
    model = ModelSource(model_dir)
    if vertex is not None:
        port = vertex.http_port
        if PORT_VARIABLE in environ and settings.bind_to_port != port:
            logger.warning(
                "Vertex AI listens on AIP_HTTP_PORT=%d; %s=%d is not used", port, PORT_VARIABLE, settings.bind_to_port
            )
        settings = vertex_payload_limit(settings.model_copy(update={"bind_to_port": port}), environ)
        model = planned_model_source(vertex.storage_uri, model_dir)
    if protocols.oip and model.uri is None:
        model = ModelSource(sagemaker_or_kserve_model_dir(model_dir, settings.kserve_model_dir))
    warn_unused(protocols, environ)
    return settings, protocols, model


def vertex_payload_limit(settings: ServingSettings, environ: Mapping[str, str]) -> ServingSettings:
    """`settings` whose request limit (SAGEMAKER_MAX_PAYLOAD_IN_MB, applied before any route) lets Vertex AI's own
    (SMTOOLKIT_VERTEX_MAX_REQUEST_MB) through: raised to it when unset; set lower, a warning that it caps Vertex's."""
    limit, wanted = settings.max_payload_bytes, settings.vertex_max_request_bytes
    if limit is None or limit >= wanted:
        return settings
    if PAYLOAD_VARIABLE in environ:
        logger.warning(
            "%s=%d caps Vertex AI's requests at %d bytes, under SMTOOLKIT_VERTEX_MAX_REQUEST_MB=%g",
            PAYLOAD_VARIABLE,
            settings.max_payload_in_mb,
            limit,
            settings.vertex_max_request_mb,
        )
        return settings
    raised = math.ceil(wanted / MEBIBYTE)
    logger.info(
        "%s unset: %d for SMTOOLKIT_VERTEX_MAX_REQUEST_MB=%g", PAYLOAD_VARIABLE, raised, settings.vertex_max_request_mb
    )
    return settings.model_copy(update={"max_payload_in_mb": raised})


def sagemaker_or_kserve_model_dir(sagemaker: Path, kserve: Path) -> Path:
    """The folder model_fn reads with the Open Inference Protocol on: SageMaker's model dir, or KServe's (where its
    storage initializer puts the model) when SageMaker's has nothing in it and KServe's is there. Both holding
    files: SageMaker's, with a warning naming both. Logs the choice whenever KServe's folder is there."""
    sagemaker_has, kserve_has = _has_files(sagemaker), _has_files(kserve)
    if sagemaker_has and kserve_has:
        logger.warning(
            "Both SageMaker's model dir %s and KServe's %s (SMTOOLKIT_KSERVE_MODEL_DIR) hold files: serving %s",
            sagemaker,
            kserve,
            sagemaker,
        )
        return sagemaker
    if not sagemaker_has and kserve.is_dir() and (kserve_has or not sagemaker.exists()):
        state = "is empty" if sagemaker.exists() else "does not exist"
        logger.info("Model dir: KServe's %s (SMTOOLKIT_KSERVE_MODEL_DIR); SageMaker's %s %s", kserve, sagemaker, state)
        return kserve
    return sagemaker


def _has_files(folder: Path) -> bool:
    return folder.is_dir() and any(folder.iterdir())


def planned_model_source(storage_uri: str | None, model_dir: Path) -> ModelSource:
    """Where the model comes from: a gs:// URI or a local tarball is fetched into `model_dir` later (while the
    server answers 503); a local folder is used in place; a bad URI is a ConfigError now."""
    if storage_uri and (storage_uri.lower().startswith(GS_SCHEME) or _local_file(storage_uri)):
        return ModelSource(model_dir, storage_uri, fetch=True)
    return ModelSource(fetch_model(storage_uri, model_dir), storage_uri)  # a folder (or none): nothing fetched


def model_source(storage_uri: str | None, model_dir: Path) -> tuple[Path, Callable[[], object] | None]:
    """(the folder model_fn reads, what fills it at start-up): planned_model_source as a folder and a fetcher."""
    model = planned_model_source(storage_uri, model_dir)
    return model.directory, model.fetcher()


def _local_file(uri: str) -> bool:
    return ("://" not in uri or uri.lower().startswith(storage.FILE_SCHEME)) and storage.local_path(uri).is_file()


def warn_unused(protocols: Protocols, environ: Mapping[str, str] | None = None) -> list[str]:
    """Warn about each variable set for a protocol that is off (it would be ignored silently); their names."""
    environ = os.environ if environ is None else environ
    unused = []
    if not protocols.oip:
        unused += [name for name in OIP_VARIABLES if name in environ]
    if protocols.vertex is None:
        unused += [name for name in VERTEX_VARIABLES if name in environ]
    for name in unused:
        logger.warning(
            "%s is set but unused: serving %s (add the protocol to SMTOOLKIT_SERVE_PROTOCOLS)",
            name,
            ", ".join(protocols.names),
        )
    return unused
