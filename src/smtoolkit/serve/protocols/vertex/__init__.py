"""Vertex AI's custom prediction container contract, as pieces the serving core routes to.

Active when AIP_MODE=PREDICTION: listen on AIP_HTTP_PORT (8080), answer health checks on GET AIP_HEALTH_ROUTE
(200 only once the model is loaded) and predictions on POST AIP_PREDICT_ROUTE. The model comes from
AIP_STORAGE_URI (`fetch_model`).

What the user's handlers see on the predict route, for a request {"instances": [...], "parameters": {...}}:

- model_fn(model_dir): model_dir is AIP_STORAGE_URI's local directory, or the folder it was fetched into.
- input_fn(input_data, content_type): input_data is the "instances" list as JSON text and content_type is
  "application/json", exactly what /invocations gives for a body holding that list. Without input_fn, the JSON
  decoder gives what it gives there: a numpy array for a rectangular list of numbers (numpy installed), else
  the list itself.
- predict_fn(data, model): data is what input_fn returned; returns the predictions, one per instance.
- output_fn(prediction, accept): accept is "application/json"; returns JSON text (or data the JSON encoder
  takes) whose top-level value is the list of predictions. It becomes {"predictions": [...]}; a JSON object
  that already holds "predictions" is sent as is. Anything but JSON is a 500 naming what came back.
- "parameters" reaches the handlers through `context` (any JSON value; None when the request has none).

So one inference.py answers {"instances": X} on Vertex as it answers the body X on /invocations. A rawPredict
or streamRawPredict request (a body that is not a JSON object holding "instances": an image, CSV, a JSON list...)
is answered exactly as /invocations would answer it: decoded by its Content-Type, encoded by Accept, streamed
when the handlers return an iterator. Errors are
{"error": "<message>"} with the status of the error (400 for a malformed body, 413 over the request size
limit, 503 before the model is loaded, 500 when a handler fails).
"""

from smtoolkit.serve.protocols.errorbody import error_body
from smtoolkit.serve.protocols.vertex.body import (
    PredictRequest,
    build_predictions,
    check_size,
    parse_predict_request,
    predict_or_raw,
    predictions_body,
)
from smtoolkit.serve.protocols.vertex.model import fetch_model
from smtoolkit.serve.protocols.vertex.settings import (
    DEDICATED_ENDPOINT_MAX_BYTES,
    PUBLIC_ENDPOINT_MAX_BYTES,
    VertexSettings,
    load_vertex_settings,
)

__all__ = [
    "DEDICATED_ENDPOINT_MAX_BYTES",
    "PUBLIC_ENDPOINT_MAX_BYTES",
    "PredictRequest",
    "VertexSettings",
    "build_predictions",
    "check_size",
    "error_body",
    "fetch_model",
    "load_vertex_settings",
    "parse_predict_request",
    "predict_or_raw",
    "predictions_body",
]
