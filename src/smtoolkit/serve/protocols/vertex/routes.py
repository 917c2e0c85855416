"""Vertex AI's routes on the core router: GET AIP_HEALTH_ROUTE and POST AIP_PREDICT_ROUTE for one model.

The predict route hands the user's handlers the "instances" list as a JSON body (see this package's docstring)
and the "parameters" through `context.parameters`; a rawPredict body (not a JSON object with "instances") goes
through as /invocations takes it, and its answer back as it is, streamed if the handlers stream (streamRawPredict).
Errors are {"error": "<message>"} with their status.
"""

from __future__ import annotations

import json

from smtoolkit.errors import ModelNotReady, ServeError
from smtoolkit.serve.core.messages import Pending, Request, Response
from smtoolkit.serve.core.router import Answer, Router
from smtoolkit.serve.pipeline import InferenceHandler, Invocation, Reply
from smtoolkit.serve.protocols.errorbody import error_body_response
from smtoolkit.serve.protocols.sagemaker import answer_of, invocation_from
from smtoolkit.serve.protocols.vertex.body import JSON_TYPE, check_size, predict_or_raw, predictions_body
from smtoolkit.serve.protocols.vertex.settings import PUBLIC_ENDPOINT_MAX_BYTES, VertexSettings

_HEALTHY = json.dumps({"status": "healthy"}).encode()
# /ping answers Vertex's health checks as they are meant when AIP_HEALTH_ROUTE names it: 200 once loaded.
SHARED_HEALTH_ROUTES = frozenset({"/ping"})


class VertexProtocol:
    def __init__(
        self,
        handler: InferenceHandler,
        settings: VertexSettings,
        limit: int | None = PUBLIC_ENDPOINT_MAX_BYTES,  # SMTOOLKIT_VERTEX_MAX_REQUEST_MB in bytes
    ) -> None:
        self.handler = handler
        self.settings = settings
        self.limit = limit

    def routes(self) -> list[tuple[str, str, str]]:
        """(method, path, the variable that set it) of each route this protocol adds."""
        return vertex_routes(self.settings)

    def register(self, router: Router) -> None:
        for method, path, _ in self.routes():
            if method == "GET":
                router.add(method, path, self.health, blocking=False)
            else:
                router.add(method, path, self.predict)
            router.answer_errors(path, error_body_response)

    def health(self, request: Request) -> Response:
        if not self.handler.ready:
            return error_body_response(ModelNotReady("the model is not loaded yet"), request)
        return Response(200, [("Content-Type", JSON_TYPE)], _HEALTHY)

    def predict(self, request: Request) -> Answer:
        check_size(request.content_length or len(request.body), self.limit)
        wanted = predict_or_raw(request.body, request.headers.get("content-type"), self.limit)
        if wanted is None:  # rawPredict: the body and the answer as they are, as /invocations takes them
            return answer_of(self.handler.start_invoke(invocation_from(request)))
        invocation = Invocation(
            body=wanted.instances_body(),
            content_type=JSON_TYPE,
            accept=JSON_TYPE,
            headers=request.headers.pairs(),
            parameters=wanted.parameters,
        )
        reply = self.handler.start_invoke(invocation)
        return reply.map(_predictions) if isinstance(reply, Pending) else _predictions(reply)


def _predictions(reply: Reply) -> Response:
    if reply.stream is not None:
        raise ServeError("on the Vertex AI route the handlers must return the predictions, not a stream")
    return Response(200, [("Content-Type", JSON_TYPE)], predictions_body(reply.body, reply.content_type))


def vertex_routes(settings: VertexSettings) -> list[tuple[str, str, str]]:
    """(method, path, the variable that set it) of each route Vertex AI's protocol adds."""
    routes = [("POST", settings.predict_path, "AIP_PREDICT_ROUTE")]
    if settings.health_path not in SHARED_HEALTH_ROUTES:
        routes.insert(0, ("GET", settings.health_path, "AIP_HEALTH_ROUTE"))
    return routes
