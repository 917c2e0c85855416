"""ProtocolSettings: which serving protocols `serve` speaks besides SageMaker's, and the model's name on the
Open Inference Protocol. Folded into ServingSettings; the choice itself (with AIP_MODE) is serve.app's."""

from __future__ import annotations

from typing import Any

from pydantic import field_validator

from smtoolkit.config.settings import EnvSettings, env_field
from smtoolkit.errors import did_you_mean

SAGEMAKER, VERTEX, OIP = "sagemaker", "vertex", "oip"
PROTOCOL_NAMES = (SAGEMAKER, VERTEX, OIP)
ALL = "all"


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
