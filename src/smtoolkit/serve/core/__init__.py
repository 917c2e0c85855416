"""The transport-free serving core: Request and Response values, the Router that protocols register routes
on, body reading within the payload limit, JSON error answers, streamed bodies. serve.adapters.wsgi and
serve.adapters.asgi put it on a transport; serve.protocols.sagemaker is the SageMaker contract as one protocol."""

from smtoolkit.serve.core.errors import error_answer, error_response, json_body
from smtoolkit.serve.core.messages import Headers, Pending, Request, Response, Stream
from smtoolkit.serve.core.router import Resolved, Route, Router, ServingProtocol

__all__ = [
    "Headers",
    "Pending",
    "Request",
    "Resolved",
    "Response",
    "Route",
    "Router",
    "ServingProtocol",
    "Stream",
    "error_answer",
    "error_response",
    "json_body",
]
