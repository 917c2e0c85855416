"""Vertex AI's prediction bodies: {"instances": [...], "parameters": ...} in, {"predictions": [...]} out.

Between the two, the user's handlers run as on /invocations: input_fn gets the instances as JSON text (content
type application/json), so the same inference.py answers a Vertex request as it answers /invocations with the
instances list as its body; output_fn's JSON list becomes the predictions.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from smtoolkit.config.protocols import MEGABYTE, VERTEX_DEDICATED_ENDPOINT_MB
from smtoolkit.errors import PayloadTooLarge, ServeError, did_you_mean
from smtoolkit.serve.codecs.registry import MediaType
from smtoolkit.serve.protocols.jsonbody import JsonField, check_object, json_value
from smtoolkit.serve.protocols.vertex.settings import PUBLIC_ENDPOINT_MAX_BYTES

JSON_TYPE = "application/json"
FIELDS = (
    JsonField("instances", (list,), "a list with one item per instance", required=True),
    JsonField("parameters", (), "any JSON value, passed to the handlers"),
)


@dataclass(frozen=True)
class PredictRequest:
    instances: list[Any]
    parameters: Any = None  # any JSON value Vertex passes through; usually an object, None when absent

    def instances_body(self) -> bytes:
        """The body input_fn receives on this route: the instances list as JSON text."""
        return json.dumps(self.instances, separators=(",", ":")).encode()


def check_size(size: int, limit: int | None = PUBLIC_ENDPOINT_MAX_BYTES) -> None:
    """413 when a body of `size` bytes is over Vertex's limit (checked on Content-Length before reading)."""
    if limit is not None and size > limit:
        raise PayloadTooLarge(
            f"the body has {size} bytes; Vertex AI accepts at most {limit} per prediction request "
            f"(SMTOOLKIT_VERTEX_MAX_REQUEST_MB={limit / MEGABYTE:g}; a dedicated, Private Service Connect or private "
            f"endpoint takes up to {VERTEX_DEDICATED_ENDPOINT_MB:g})"
        )


def parse_predict_request(body: bytes, limit: int | None = PUBLIC_ENDPOINT_MAX_BYTES) -> PredictRequest:
    """A Vertex prediction request; BadRequest naming what is wrong, PayloadTooLarge over `limit` bytes."""
    check_size(len(body), limit)
    return _prediction(json_value(body, "the body"))


def predict_or_raw(
    body: bytes, content_type: str | None, limit: int | None = PUBLIC_ENDPOINT_MAX_BYTES
) -> PredictRequest | None:
    """The prediction request a body holds, or None for a rawPredict (and streamRawPredict) body, which Vertex
    passes through as sent: one that is not JSON by its Content-Type, or JSON but not an object holding
    "instances". An object whose fields are all near misses of "instances" and "parameters" is a misspelt
    prediction request: BadRequest names the field."""
    check_size(len(body), limit)
    if not _is_json(content_type):
        return None
    document = json_value(body, "the body")
    if not isinstance(document, dict) or ("instances" not in document and not _misspelt_prediction(document)):
        return None
    return _prediction(document)


def _prediction(document: Any) -> PredictRequest:
    checked = check_object(document, "the body", FIELDS)
    return PredictRequest(checked["instances"], checked.get("parameters"))


def _is_json(content_type: str | None) -> bool:
    """Whether a Content-Type is JSON's; no Content-Type counts as JSON (what Vertex's predict sends)."""
    media_type = MediaType.parse(content_type)
    return media_type is None or media_type.name == JSON_TYPE


def _misspelt_prediction(document: dict[str, Any]) -> bool:
    """Every field is a prediction request's or a near miss of one, and one is a near miss of "instances"."""
    names = [field.name for field in FIELDS]
    known = all(key in names or did_you_mean(key, names) for key in document)
    return known and any(did_you_mean(key, ["instances"]) for key in document)


def predictions_body(output: bytes, content_type: str | None) -> bytes:
    """The Vertex response from what output_fn (or the JSON encoder) gave: a JSON list becomes
    {"predictions": list}; an object already holding "predictions" passes as is. Anything else is a 500
    naming what came back, since Vertex clients can read nothing else."""
    if not _is_json(content_type):
        raise ServeError(f"on the Vertex AI route output_fn must return {JSON_TYPE}; it returned {content_type}")
    try:
        value = json.loads(output)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ServeError("on the Vertex AI route output_fn must return JSON; it returned something else") from None
    if isinstance(value, dict) and "predictions" in value:
        return output
    if not isinstance(value, list):
        raise ServeError(
            f"on the Vertex AI route the predictions must be a JSON list (one per instance), got {type(value).__name__}"
        )
    return build_predictions(value)


def build_predictions(predictions: list[Any]) -> bytes:
    return json.dumps({"predictions": predictions}, separators=(",", ":")).encode()
