"""create_app: the Flask app of SageMaker's serving contract (/ping, /invocations, /execution-parameters).

This is the one place where errors become HTTP: a ServeError gives its status and a JSON body with its
message, anything else a JSON 500; tracebacks go to the log, never to the client.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import flask
from werkzeug.exceptions import HTTPException

from smtoolkit.config.serving import MAX_TRANSFORM_BUDGET_MB, ServingSettings, normalise_batch_strategy
from smtoolkit.errors import PayloadTooLarge, ServeError
from smtoolkit.serve.pipeline import InferenceHandler, Invocation

logger = logging.getLogger(__name__)

_READ_CHUNK = 1 << 16


def json_response(payload: Any, status: int = 200) -> flask.Response:
    return flask.Response(json.dumps(payload), status=status, mimetype="application/json")


def error_response(status: int, kind: str, message: str) -> flask.Response:
    return json_response({"code": status, "type": kind, "message": message}, status)


def read_body(limit: int | None) -> bytes:
    """The request body: 413 from Content-Length before reading, and never more than limit + 1 bytes read."""
    request = flask.request
    length = request.content_length
    if limit is not None and length is not None and length > limit:
        raise PayloadTooLarge(f"the body has {length} bytes; the limit is {limit} (SAGEMAKER_MAX_PAYLOAD_IN_MB)")
    if length is not None:
        return request.stream.read(length)
    chunks, size = [], 0
    while chunk := request.stream.read(_READ_CHUNK if limit is None else min(_READ_CHUNK, limit + 1 - size)):
        chunks.append(chunk)
        size += len(chunk)
        if limit is not None and size > limit:
            raise PayloadTooLarge(f"the body is over the limit of {limit} bytes (SAGEMAKER_MAX_PAYLOAD_IN_MB)")
    return b"".join(chunks)


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


def _serve_error(error: ServeError) -> flask.Response:
    if error.status >= 500:
        logger.error("%s %s: %s", flask.request.method, flask.request.path, error, exc_info=error)
    else:
        logger.info("%s %s: %d %s", flask.request.method, flask.request.path, error.status, error)
    return error_response(error.status, error.kind, str(error))


def _http_error(error: HTTPException) -> flask.Response:
    status = error.code or 500
    return error_response(status, error.name.replace(" ", ""), error.description or error.name)


def _unexpected(error: Exception) -> flask.Response:
    logger.error("Unexpected error on %s %s", flask.request.method, flask.request.path, exc_info=error)
    return error_response(500, "InternalServerError", "internal server error; see the server log")


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
        invocation = Invocation(
            body=read_body(limit),
            content_type=request.headers.get("Content-Type"),
            accept=request.headers.get("Accept"),
            headers=list(request.headers.items()),
        )
        reply = handler.invoke(invocation)
        return flask.Response(reply.body, status=200, content_type=reply.content_type, headers=reply.headers)

    def execution_parameters() -> flask.Response:
        params = handler.execution_parameters(settings.execution_parameters())
        return json_response(checked_execution_parameters(params))

    app.add_url_rule("/ping", "ping", ping, methods=["GET"])
    app.add_url_rule("/invocations", "invocations", invocations, methods=["POST"])
    app.add_url_rule("/execution-parameters", "execution_parameters", execution_parameters, methods=["GET"])
    app.register_error_handler(ServeError, _serve_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)
    return app
