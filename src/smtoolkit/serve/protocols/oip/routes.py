"""The Open Inference Protocol's REST routes on the core router, for the model(s) `models` serves:

    GET  /v2                                       server metadata
    GET  /v2/health/live, /v2/health/ready         200 live; ready once the model is loaded (503 before)
    GET  /v2/models/NAME[/versions/V]              model metadata
    GET  /v2/models/NAME[/versions/V]/ready        200 once loaded, 503 before
    POST /v2/models/NAME[/versions/V]/infer        tensors in, predict_fn, tensors out (userdata.py)

For the one model `serve` loads (oip.models.OneModel), NAME is SMTOOLKIT_OIP_MODEL_NAME (default "model"), V is
SMTOOLKIT_OIP_MODEL_VERSION (no version routes answer unless it is set); on a multi-model endpoint NAME is any
loaded model (oip.repository). Every error is {"error": "<message>"} with its status.
"""

from __future__ import annotations

import json
from functools import partial
from typing import Any

from smtoolkit import __version__
from smtoolkit.errors import EntryPointError, ModelNotReady
from smtoolkit.serve.core.messages import Pending, Request, Response
from smtoolkit.serve.core.router import Answer, Router
from smtoolkit.serve.pipeline import InferenceHandler
from smtoolkit.serve.protocols.errorbody import error_body_response
from smtoolkit.serve.protocols.oip.encoding import decoded_body
from smtoolkit.serve.protocols.oip.metadata import EXTENSIONS, TensorMetadata, model_metadata, server_metadata
from smtoolkit.serve.protocols.oip.models import ServedModels
from smtoolkit.serve.protocols.oip.request import HEADER_LENGTH, InferenceRequest, parse_request
from smtoolkit.serve.protocols.oip.response import JSON_TYPE, InferenceResponse, encode_response
from smtoolkit.serve.protocols.oip.tensor import numpy_module
from smtoolkit.serve.protocols.oip.userdata import output_tensors, user_data

MODEL = "/v2/models/{name}"
VERSION = "/v2/models/{name}/versions/{version}"
_LIVE = json.dumps({"live": True}).encode()


def declared_tensors(model: Any, attribute: str) -> tuple[TensorMetadata, ...]:
    """The model's `oip_inputs` / `oip_outputs` (TensorMetadata, or dicts with name, datatype, shape), if any."""
    declared = getattr(model, attribute, None) or ()
    try:
        return tuple(t if isinstance(t, TensorMetadata) else TensorMetadata(**_fields(t)) for t in declared)
    except (TypeError, ValueError) as exc:
        raise EntryPointError(f"the model's {attribute}: {exc}") from None


def _fields(item: Any) -> dict[str, Any]:
    return {"name": item["name"], "datatype": item["datatype"], "shape": tuple(item.get("shape", ()))}


class OpenInferenceProtocol:
    """The routes, answered by `models` (OneModel, or a multi-model endpoint's registry)."""

    def __init__(self, models: ServedModels, limit: int | None = None) -> None:
        self.models, self.limit = models, limit

    def register(self, router: Router) -> None:
        router.answer_errors("/v2", error_body_response)
        router.answer_errors("/v2/", error_body_response)
        router.add("GET", "/v2", self.server, blocking=False)
        router.add("GET", "/v2/health/live", self.live, blocking=False)
        router.add("GET", "/v2/health/ready", self.server_ready, blocking=False)
        instant = self.models.instant
        for base in (MODEL, VERSION):
            router.add("GET", base, self.metadata, blocking=not instant)
            router.add("GET", f"{base}/ready", self.ready, blocking=not instant)
            router.add("POST", f"{base}/infer", self.infer)

    def _handler(self, request: Request) -> InferenceHandler:
        params = request.path_params
        return self.models.handler(params["name"], params.get("version"))

    def server(self, request: Request) -> Response:
        return Response.json(server_metadata(__version__, (*EXTENSIONS, *self.models.extensions)))

    def live(self, request: Request) -> Response:
        return Response(200, [("Content-Type", JSON_TYPE)], _LIVE)

    def server_ready(self, request: Request) -> Response:
        if not self.models.server_ready():
            raise ModelNotReady("the model is not loaded yet")
        return Response.json({"ready": True})

    def ready(self, request: Request) -> Response:
        if not self._handler(request).ready:
            raise ModelNotReady("the model is not loaded yet")
        return Response.json({"ready": True})

    def metadata(self, request: Request) -> Response:
        name, model = request.path_params["name"], self._handler(request).model
        inputs, outputs = declared_tensors(model, "oip_inputs"), declared_tensors(model, "oip_outputs")
        platform = getattr(model, "oip_platform", "")
        return Response.json(model_metadata(name, inputs, outputs, self.models.versions(name), platform))

    def infer(self, request: Request) -> Answer:
        handler = self._handler(request)
        body = decoded_body(request.body, request.headers.get("content-encoding"), self.limit)
        wanted = parse_request(body, request.headers.get(HEADER_LENGTH))
        data = user_data(wanted)
        prediction = handler.start_predict(data, request.headers.pairs(), dict(wanted.parameters))
        respond = partial(self._respond, request, wanted, handler)
        return prediction.map(respond) if isinstance(prediction, Pending) else respond(prediction)

    def _respond(
        self, request: Request, wanted: InferenceRequest, handler: InferenceHandler, prediction: Any
    ) -> Response:
        declared = declared_tensors(handler.model, "oip_outputs")
        outputs = output_tensors(prediction, declared, numpy_module(None))
        name = request.path_params["name"]
        version = request.path_params.get("version") or next(iter(self.models.versions(name)), None)
        answer = InferenceResponse(name, outputs, version, wanted.id)
        encoded = encode_response(answer, wanted)
        return Response(200, list(encoded.headers.items()), encoded.body)
