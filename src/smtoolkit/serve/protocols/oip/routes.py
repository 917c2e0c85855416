"""The Open Inference Protocol's REST routes on the core router, for the one model `serve` loads:

    GET  /v2                                       server metadata
    GET  /v2/health/live, /v2/health/ready         200 live; ready once the model is loaded (503 before)
    GET  /v2/models/NAME[/versions/V]              model metadata
    GET  /v2/models/NAME[/versions/V]/ready        200 once loaded, 503 before
    POST /v2/models/NAME[/versions/V]/infer        tensors in, predict_fn, tensors out (userdata.py)

NAME is SMTOOLKIT_OIP_MODEL_NAME (default "model"), V is SMTOOLKIT_OIP_MODEL_VERSION (no version routes answer
unless it is set). Every error is {"error": "<message>"} with its status.
"""

from __future__ import annotations

import json
from typing import Any

from smtoolkit import __version__
from smtoolkit.errors import EntryPointError, ModelNotReady, NotFound, did_you_mean
from smtoolkit.serve.core.messages import Request, Response
from smtoolkit.serve.core.router import Endpoint, Router
from smtoolkit.serve.pipeline import InferenceHandler
from smtoolkit.serve.protocols.errorbody import error_body_response
from smtoolkit.serve.protocols.oip.encoding import decoded_body
from smtoolkit.serve.protocols.oip.metadata import TensorMetadata, model_metadata, server_metadata
from smtoolkit.serve.protocols.oip.request import HEADER_LENGTH, parse_request
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
    def __init__(
        self, handler: InferenceHandler, name: str, version: str | None = None, limit: int | None = None
    ) -> None:
        if handler.user.transform_fn:
            raise EntryPointError(
                f"{handler.user.source} defines transform_fn, which takes a body; the Open Inference Protocol "
                "hands tensors to predict_fn, so define predict_fn (or serve without oip)"
            )
        self.handler, self.name, self.version, self.limit = handler, name, version, limit

    def register(self, router: Router) -> None:
        router.answer_errors("/v2", error_body_response)
        router.answer_errors("/v2/", error_body_response)
        router.add("GET", "/v2", self.server, blocking=False)
        router.add("GET", "/v2/health/live", self.live, blocking=False)
        router.add("GET", "/v2/health/ready", self.ready, blocking=False)
        for base in (MODEL, VERSION):
            router.add("GET", base, self._checked(self.metadata), blocking=False)
            router.add("GET", f"{base}/ready", self._checked(self.ready), blocking=False)
            router.add("POST", f"{base}/infer", self._checked(self.infer))

    def _checked(self, endpoint: Endpoint) -> Endpoint:
        """`endpoint` for this model's name (and version) only: 404 naming the model served otherwise."""

        def checked(request: Request) -> Response:
            self._check_model(request.path_params)
            return endpoint(request)

        return checked

    def _check_model(self, params: dict[str, str]) -> None:
        name, version = params["name"], params.get("version")
        if name != self.name:
            raise NotFound(f"no model {name!r}{did_you_mean(name, [self.name])}; this server has {self.name!r}")
        if version is not None and version != self.version:
            held = f"version {self.version!r}" if self.version else "no versions"
            raise NotFound(f"model {name!r} has no version {version!r}; it has {held}")

    def server(self, request: Request) -> Response:
        return Response.json(server_metadata(__version__))

    def live(self, request: Request) -> Response:
        return Response(200, [("Content-Type", JSON_TYPE)], _LIVE)

    def ready(self, request: Request) -> Response:
        if not self.handler.ready:
            raise ModelNotReady("the model is not loaded yet")
        return Response.json({"ready": True})

    def metadata(self, request: Request) -> Response:
        model = self.handler.model
        inputs, outputs = declared_tensors(model, "oip_inputs"), declared_tensors(model, "oip_outputs")
        versions = [self.version] if self.version else []
        return Response.json(model_metadata(self.name, inputs, outputs, versions, getattr(model, "oip_platform", "")))

    def infer(self, request: Request) -> Response:
        body = decoded_body(request.body, request.headers.get("content-encoding"), self.limit)
        wanted = parse_request(body, request.headers.get(HEADER_LENGTH))
        data = user_data(wanted)
        prediction = self.handler.predict(data, request.headers.pairs(), dict(wanted.parameters))
        declared = declared_tensors(self.handler.model, "oip_outputs")
        outputs = output_tensors(prediction, declared, numpy_module(None))
        answer = InferenceResponse(self.name, outputs, self.version, wanted.id)
        encoded = encode_response(answer, wanted)
        return Response(200, list(encoded.headers.items()), encoded.body)
