"""VertexSettings: the AIP_* variables Vertex AI sets in a custom prediction container, typed, with the
defaults its documentation gives. Read once at the entry point and passed down; nothing here binds or writes."""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator

from smtoolkit.config.protocols import MEGABYTE, VERTEX_DEDICATED_ENDPOINT_MB, VERTEX_SHARED_ENDPOINT_MB
from smtoolkit.config.settings import EnvSettings

ENV_PREFIX = "AIP_"
PREDICTION_MODE = "PREDICTION"
DEFAULT_PORT = 8080
# Vertex's limit on a request body (SMTOOLKIT_VERTEX_MAX_REQUEST_MB says which applies; see config.protocols).
PUBLIC_ENDPOINT_MAX_BYTES = round(VERTEX_SHARED_ENDPOINT_MB * MEGABYTE)
DEDICATED_ENDPOINT_MAX_BYTES = round(VERTEX_DEDICATED_ENDPOINT_MB * MEGABYTE)


class VertexSettings(EnvSettings):
    """Each field is read from AIP_<FIELD NAME>; Vertex sets them all when it deploys the model."""

    env_prefix = ENV_PREFIX
    empty_is_unset = False

    mode: str | None = Field(None, description="PREDICTION in a container Vertex AI serves. Default unset.")
    mode_version: str | None = Field(None, description="The version of the contract in AIP_MODE. Default unset.")
    http_port: int = Field(DEFAULT_PORT, ge=1, le=65535, description="Listen port (containerSpec.ports[0]).")
    health_route: str | None = Field(
        None, description="GET path of the health check. Default: the predict route's path."
    )
    predict_route: str | None = Field(
        None,
        description="POST path of predictions. Default /v1/endpoints/AIP_ENDPOINT_ID/deployedModels/"
        "AIP_DEPLOYED_MODEL_ID:predict.",
    )
    storage_uri: str | None = Field(None, description="Where the model artifacts are: gs:// or a local path.")
    endpoint_id: str | None = Field(None, description="The Endpoint's id (the last part of its name).")
    deployed_model_id: str | None = Field(None, description="The DeployedModel's id.")
    model_name: str | None = Field(None, description="The Model's resource name.")
    project_number: str | None = Field(None, description="The project's number.")
    machine_type: str | None = Field(None, description="The node's machine type.")
    accelerator_type: str | None = Field(None, description="The node's accelerator type, if any.")
    framework: str | None = Field(None, description="The framework Vertex knows the container by.")

    @field_validator("health_route", "predict_route")
    @classmethod
    def _check_route(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        if not value.startswith("/") or any(c.isspace() for c in value):
            raise ValueError("expected an HTTP path starting with / and without spaces")
        return value

    @property
    def active(self) -> bool:
        """Whether Vertex AI is serving this container (AIP_MODE=PREDICTION)."""
        return (self.mode or "").strip().upper() == PREDICTION_MODE

    @property
    def predict_path(self) -> str:
        if self.predict_route:
            return self.predict_route
        endpoint, model = self.endpoint_id or "ENDPOINT", self.deployed_model_id or "DEPLOYED_MODEL"
        return f"/v1/endpoints/{endpoint}/deployedModels/{model}:predict"

    @property
    def health_path(self) -> str:
        """AIP_HEALTH_ROUTE; unset, Vertex sends health checks as GET on the predict route's path."""
        return self.health_route or self.predict_path


def load_vertex_settings(**overrides: Any) -> VertexSettings:
    """VertexSettings from the environment (and keyword overrides); ConfigError naming each bad variable."""
    return VertexSettings.from_environ(None, **overrides)
