"""create_app: the Flask app of SageMaker's serving contract (/ping, /invocations, /execution-parameters).

Errors become JSON bodies through serve.wire (no tracebacks to clients). POST /invocations is answered by the
fast path of serve.fastpath in front of Flask; the Flask route stays for anything that reaches it.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import flask

from smtoolkit.config.serving import MAX_TRANSFORM_BUDGET_MB, ServingSettings, normalise_batch_strategy
from smtoolkit.errors import ServeError
from smtoolkit.serve.fastpath import InvocationsFastPath
from smtoolkit.serve.pipeline import InferenceHandler, Invocation
from smtoolkit.serve.wire import error_answer, json_body, read_body

logger = logging.getLogger(__name__)


def json_response(payload: Any, status: int = 200) -> flask.Response:
    return flask.Response(json.dumps(payload), status=status, mimetype="application/json")


def error_response(status: int, kind: str, message: str) -> flask.Response:
    return flask.Response(json_body(status, kind, message), status=status, mimetype="application/json")


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


def _error(error: Exception) -> flask.Response:
    """Every error raised in a route (HTTPExceptions too) as a JSON body."""
    request = flask.request
    status, body = error_answer(error, request.method, request.path)
    return flask.Response(body, status=status, mimetype="application/json")


def create_app(handler: InferenceHandler, settings: ServingSettings) -> flask.Flask:
    """The app for one model. /ping is 200 once the handler's model is loaded, 503 before."""
    app = flask.Flask("smtoolkit.serve")
    limit = settings.max_payload_bytes

    def ping() -> flask.Response:
        if not handler.ready:
            return error_response(503, "ModelNotReady", "the model is not loaded yet")
        return flask.Response(b"", status=200, mimetype="text/plain")

    def invocations() -> flask.Response:
        request = flask.request
        environ = request.environ
        invocation = Invocation(
            body=read_body(environ, limit),
            content_type=environ.get("CONTENT_TYPE"),
            accept=environ.get("HTTP_ACCEPT"),
            headers=request.headers,
        )
        reply = handler.invoke(invocation)
        return flask.Response(reply.body, content_type=reply.content_type, headers=reply.headers or None)

    def execution_parameters() -> flask.Response:
        params = handler.execution_parameters(settings.execution_parameters())
        return json_response(checked_execution_parameters(params))

    app.add_url_rule("/ping", "ping", ping, methods=["GET"])
    app.add_url_rule("/invocations", "invocations", invocations, methods=["POST"])
    app.add_url_rule("/execution-parameters", "execution_parameters", execution_parameters, methods=["GET"])
    app.register_error_handler(Exception, _error)
    app.wsgi_app = InvocationsFastPath(app.wsgi_app, handler, limit)  # type: ignore[method-assign]
    return app
