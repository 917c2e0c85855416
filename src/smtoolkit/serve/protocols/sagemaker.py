"""The SageMaker serving contract as one protocol on the core router: GET /ping, POST /invocations,
GET /execution-parameters, answered by an InferenceHandler."""

from __future__ import annotations

from typing import Any

from smtoolkit.config.serving import MAX_TRANSFORM_BUDGET_MB, ServingSettings, normalise_batch_strategy
from smtoolkit.errors import ServeError
from smtoolkit.serve.context import TARGET_MODEL_HEADERS
from smtoolkit.serve.core.errors import json_body
from smtoolkit.serve.core.messages import Pending, Request, Response
from smtoolkit.serve.core.router import Answer, Router
from smtoolkit.serve.pipeline import InferenceHandler, Invocation, Reply

_NOT_READY = json_body(503, "ModelNotReady", "the model is not loaded yet")


def checked_execution_parameters(params: dict[str, Any]) -> dict[str, Any]:
    """The parameters as the platform accepts them, or a ServeError (500) saying which is wrong."""
    unknown = set(params) - {"MaxConcurrentTransforms", "BatchStrategy", "MaxPayloadInMB"}
    concurrency, payload = params.get("MaxConcurrentTransforms"), params.get("MaxPayloadInMB")
    strategy = normalise_batch_strategy(str(params.get("BatchStrategy")))
    problems = [f"unknown key {key}" for key in sorted(unknown)]
    if not isinstance(concurrency, int) or isinstance(concurrency, bool) or concurrency < 1:
        problems.append(f"MaxConcurrentTransforms must be an integer >= 1, got {concurrency!r}")
    if not isinstance(payload, int) or isinstance(payload, bool) or not 0 <= payload <= 100:
        problems.append(f"MaxPayloadInMB must be an integer from 0 to 100, got {payload!r}")
    elif isinstance(concurrency, int) and concurrency * payload > MAX_TRANSFORM_BUDGET_MB:
        problems.append(f"MaxConcurrentTransforms x MaxPayloadInMB must be <= {MAX_TRANSFORM_BUDGET_MB}")
    if strategy is None:
        problems.append(f"BatchStrategy must be MULTI_RECORD or SINGLE_RECORD, got {params.get('BatchStrategy')!r}")
    if problems:
        raise ServeError("invalid execution parameters: " + "; ".join(problems))
    return {"MaxConcurrentTransforms": concurrency, "BatchStrategy": strategy, "MaxPayloadInMB": payload}


def invocation_from(request: Request, target_model: str | None = None) -> Invocation:
    """The request as the handler reads it: body, Content-Type, Accept, and every header for its context;
    with `target_model` (a multi-model invocation) the context's target_model names it whatever was sent."""
    headers = request.headers
    pairs = headers.pairs()
    if target_model is not None and TARGET_MODEL_HEADERS[0] not in headers:
        pairs.append((TARGET_MODEL_HEADERS[0], target_model))
    return Invocation(
        body=request.body,
        content_type=headers.get("content-type"),
        accept=headers.get("accept"),
        headers=pairs,
    )


def reply_response(reply: Reply) -> Response:
    answer = [("Content-Type", reply.content_type), *reply.headers.items()]
    return Response(200, answer, reply.body, reply.stream)


def answer_of(reply: Reply | Pending[Reply]) -> Answer:
    """The Response of a Reply, or the Pending Response of a Pending one (a request waiting for its batch)."""
    return reply_response(reply) if isinstance(reply, Reply) else reply.map(reply_response)


class SageMakerProtocol:
    """The contract's three routes for one model. /ping is 200 once the model is loaded, 503 before."""

    def __init__(self, handler: InferenceHandler, settings: ServingSettings) -> None:
        self.handler = handler
        self.settings = settings

    def register(self, router: Router) -> None:
        router.add("GET", "/ping", self.ping, blocking=False)
        router.add("POST", "/invocations", self.invocations)
        router.add("GET", "/execution-parameters", self.execution_parameters)

    def ping(self, request: Request) -> Response:
        if not self.handler.ready:
            return Response(503, [("Content-Type", "application/json")], _NOT_READY)
        return Response(200, [("Content-Type", "text/plain; charset=utf-8")])

    def invocations(self, request: Request) -> Answer:
        return answer_of(self.handler.start_invoke(invocation_from(request)))

    def execution_parameters(self, request: Request) -> Response:
        params = self.handler.execution_parameters(self.settings.execution_parameters())
        return Response.json(checked_execution_parameters(params))
