"""The one place where errors become HTTP answers: a ServeError gives its status and a JSON body with its
message, anything else a JSON 500. Tracebacks go to the log, never to the client."""

from __future__ import annotations

import json
import logging

from smtoolkit.errors import ServeError, users_part
from smtoolkit.serve.core.messages import Response

logger = logging.getLogger(__name__)


class MethodNotAllowed(ServeError):
    kind = "MethodNotAllowed"
    status = 405


def json_body(status: int, kind: str, message: str) -> bytes:
    return json.dumps({"code": status, "type": kind, "message": message}).encode()


def error_parts(error: BaseException, method: str, path: str) -> tuple[int, str, str]:
    """(status, kind, message) for an error raised while answering `method path`; logged as it deserves.
    The message is the error's own for a ServeError, a pointer to the log for anything else."""
    if isinstance(error, ServeError):
        if error.status >= 500:
            # raised for the user's code (predict_fn...): its traceback alone says where, without our frames
            cause = error.__cause__
            logger.error("%s %s: %s", method, path, error, exc_info=users_part(cause) if cause else error)
        else:
            logger.info("%s %s: %d %s", method, path, error.status, error)
        return error.status, error.kind, str(error)
    logger.error("Unexpected error on %s %s", method, path, exc_info=error)
    return 500, "InternalServerError", "internal server error; see the server log"


def error_answer(error: BaseException, method: str, path: str) -> tuple[int, bytes]:
    """(status, JSON body) for an error raised while answering `method path`; logged as it deserves."""
    status, kind, message = error_parts(error, method, path)
    return status, json_body(status, kind, message)


def error_response(error: BaseException, method: str, path: str) -> Response:
    status, body = error_answer(error, method, path)
    return Response(status, [("Content-Type", "application/json")], body)
