"""ProtocolSettings: which serving protocols `serve` speaks besides SageMaker's, the model's name (and KServe's
model folder) on the Open Inference Protocol, and Vertex AI's request size limit. Folded into ServingSettings (so
every SMTOOLKIT_* name is known to the typo check); the choice itself (with AIP_MODE) is serve.app's."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import field_validator

from smtoolkit.config.settings import EnvSettings, env_field
from smtoolkit.errors import did_you_mean

SAGEMAKER, VERTEX, OIP = "sagemaker", "vertex", "oip"
PROTOCOL_NAMES = (SAGEMAKER, VERTEX, OIP)
ALL = "all"
MEGABYTE = 1_000_000  # Vertex AI states its limits in decimal megabytes
# Vertex AI's limit on a prediction request: 1.5 MB on a shared public endpoint; dedicated public, Private Service
# Connect and private endpoints take 10 MB ("Choose an endpoint type" in the Vertex AI docs).
VERTEX_SHARED_ENDPOINT_MB = 1.5
VERTEX_DEDICATED_ENDPOINT_MB = 10.0
KSERVE_MODEL_DIR = Path("/mnt/models")  # where KServe's storage initializer puts the model


def parse_protocols(value: Any) -> Any:
    """ "oip", "vertex,oip", "all" (any case, commas or spaces) as a tuple of names in PROTOCOL_NAMES order;
    ValueError naming an unknown one and the closest valid name."""
    if not isinstance(value, str):
        return value
    names = {part.strip().lower() for part in value.replace(" ", ",").split(",") if part.strip()}
    unknown = sorted(names - {*PROTOCOL_NAMES, ALL})
    if unknown:
        hint = did_you_mean(unknown[0], (*PROTOCOL_NAMES, ALL))
        raise ValueError(
            f"unknown protocol {unknown[0]!r}{hint}; expected a comma-separated list of "
            f"{', '.join(PROTOCOL_NAMES)}, or {ALL}"
        )
    if ALL in names:
        names = set(PROTOCOL_NAMES)
    return tuple(name for name in PROTOCOL_NAMES if name in names)


class ProtocolSettings(EnvSettings):
    """Fields ServingSettings inherits (declared here to keep the protocol choice in one place)."""

    serve_protocols: tuple[str, ...] = env_field(
        "SMTOOLKIT_SERVE_PROTOCOLS",
        (),
        description="Protocols served besides SageMaker's (always on): vertex, oip, or all, comma-separated. "
        "Default: vertex when AIP_MODE=PREDICTION, nothing else.",
    )
    oip_model_name: str = env_field(
        "SMTOOLKIT_OIP_MODEL_NAME",
        "model",
        pattern=r"^[A-Za-z0-9_.-]+$",
        description="The model's name in the Open Inference Protocol's /v2/models/NAME routes. Default model.",
    )
    oip_model_version: str | None = env_field(
        "SMTOOLKIT_OIP_MODEL_VERSION",
        None,
        pattern=r"^[A-Za-z0-9_.-]+$",
        description="The model's version (/v2/models/NAME/versions/VERSION). Default unset: no version routes.",
    )

    @field_validator("serve_protocols", mode="before")
    @classmethod
    def _parse_protocols(cls, value: Any) -> Any:
        return parse_protocols(value)

    kserve_model_dir: Path = env_field(
        "SMTOOLKIT_KSERVE_MODEL_DIR",
        KSERVE_MODEL_DIR,
        description="KServe's model folder, read with the Open Inference Protocol on when SageMaker's model dir "
        "has nothing in it. Default /mnt/models.",
    )
    vertex_max_request_mb: float = env_field(
        "SMTOOLKIT_VERTEX_MAX_REQUEST_MB",
        VERTEX_SHARED_ENDPOINT_MB,
        description="Largest Vertex AI prediction request, in MB (10^6 bytes): 1.5 on a shared public endpoint, "
        "up to 10 on a dedicated public, Private Service Connect or private one. Default 1.5.",
    )

    @field_validator("kserve_model_dir")
    @classmethod
    def _check_absolute(cls, value: Path) -> Path:
        if not value.is_absolute():
            raise ValueError("expected an absolute path")
        return value

    @field_validator("vertex_max_request_mb")
    @classmethod
    def _check_vertex_max_request(cls, value: float) -> float:
        if not 0 < value <= VERTEX_DEDICATED_ENDPOINT_MB:  # NaN too
            raise ValueError(
                f"expected MB above 0 and at most {VERTEX_DEDICATED_ENDPOINT_MB:g}: Vertex AI takes "
                f"{VERTEX_SHARED_ENDPOINT_MB:g} MB on a shared public endpoint and {VERTEX_DEDICATED_ENDPOINT_MB:g} "
                "on a dedicated, Private Service Connect or private one"
            )
        return value

    @property
    def vertex_max_request_bytes(self) -> int:
        return round(self.vertex_max_request_mb * MEGABYTE)
