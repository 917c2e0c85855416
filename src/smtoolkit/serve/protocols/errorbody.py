"""The error body of the Open Inference Protocol and of Vertex AI alike: {"error": "<message>"}."""

from __future__ import annotations

import json

from smtoolkit.serve.core.errors import error_parts
from smtoolkit.serve.core.messages import Request, Response


def error_body(message: str) -> bytes:
    return json.dumps({"error": message}).encode()


def error_body_response(error: BaseException, request: Request) -> Response:
    """The answer to `error` as these protocols give it: its status, {"error": message}; logged as the core does."""
    status, _, message = error_parts(error, request.method, request.path)
    return Response(status, [("Content-Type", "application/json")], error_body(message))
