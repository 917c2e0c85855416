"""create_app: the transport-free app of one model: the SageMaker contract, and the protocols chosen besides it
(Vertex AI, the Open Inference Protocol) mounted on the same core router, on one port.

serve.adapters.wsgi and serve.adapters.asgi put it on a transport (`wsgi_app(create_app(...))`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from smtoolkit.config.protocols import OIP, VERTEX
from smtoolkit.config.serving import ServingSettings
from smtoolkit.errors import ConfigError
from smtoolkit.serve.core.router import Router
from smtoolkit.serve.pipeline import InferenceHandler
from smtoolkit.serve.protocols.sagemaker import SageMakerProtocol
from smtoolkit.serve.protocols.vertex.settings import VertexSettings


@dataclass(frozen=True)
class Protocols:
    """What `serve` speaks besides SageMaker's contract (always on)."""

    vertex: VertexSettings | None = None  # Vertex AI's routes, from its AIP_* settings
    oip: bool = False
    # Start-up work before model_fn (Vertex AI's model from AIP_STORAGE_URI), run in the master while it answers
    # 503, so that a long download does not leave the port closed to the platform's probes.
    fetch_model: Callable[[], object] | None = None

    @property
    def names(self) -> list[str]:
        return ["sagemaker", *(["vertex"] if self.vertex else []), *(["oip"] if self.oip else [])]


def choose_protocols(settings: ServingSettings, vertex: VertexSettings) -> Protocols:
    """SageMaker always; Vertex AI when AIP_MODE=PREDICTION or SMTOOLKIT_SERVE_PROTOCOLS names it; OIP when named."""
    chosen = settings.serve_protocols
    return Protocols(vertex if vertex.active or VERTEX in chosen else None, OIP in chosen)


def create_app(handler: InferenceHandler, settings: ServingSettings, protocols: Protocols | None = None) -> Router:
    """A router serving `handler` by the SageMaker contract and `protocols`, with the payload limit of `settings`;
    ConfigError when a Vertex route set by AIP_* is already another protocol's."""
    protocols = protocols or Protocols()
    router = Router(settings.max_payload_bytes).mount(SageMakerProtocol(handler, settings))
    if protocols.oip:
        from smtoolkit.serve.protocols.oip.models import OneModel
        from smtoolkit.serve.protocols.oip.routes import OpenInferenceProtocol

        model = OneModel(handler, settings.oip_model_name, settings.oip_model_version)
        router.mount(OpenInferenceProtocol(model, settings.max_payload_bytes))
    if protocols.vertex is not None:
        from smtoolkit.serve.protocols.vertex.routes import VertexProtocol

        vertex = VertexProtocol(handler, protocols.vertex, settings.vertex_max_request_bytes)
        for method, path, variable in vertex.routes():
            if router.has(method, path):
                raise ConfigError.single(
                    "environment", f"{method} {path} is already a route of {' or '.join(protocols.names)}", variable
                )
        router.mount(vertex)
    return router
