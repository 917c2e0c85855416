"""create_app: the transport-free app of one model, the SageMaker contract mounted on the core router.

serve.wsgi and serve.asgi put it on a transport (`wsgi_app(create_app(...))`).
"""

from __future__ import annotations

from smtoolkit.config.serving import ServingSettings
from smtoolkit.serve.core.router import Router
from smtoolkit.serve.pipeline import InferenceHandler
from smtoolkit.serve.protocols.sagemaker import SageMakerProtocol


def create_app(handler: InferenceHandler, settings: ServingSettings) -> Router:
    """A router serving `handler` by the SageMaker contract, with the payload limit of `settings`."""
    return Router(settings.max_payload_bytes).mount(SageMakerProtocol(handler, settings))
