"""An OIP inference response as an HTTP body: the outputs the request asked for, each as JSON data or, where
asked (binary_data, binary_data_output), as binary data after the JSON header."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from smtoolkit.errors import BadRequest, did_you_mean
from smtoolkit.serve.protocols.oip.binary import to_binary
from smtoolkit.serve.protocols.oip.request import BINARY_DATA_SIZE, HEADER_LENGTH, InferenceRequest
from smtoolkit.serve.protocols.oip.tensor import Tensor, numpy_module, to_json

JSON_TYPE = "application/json"
BINARY_TYPE = "application/octet-stream"


@dataclass(frozen=True)
class InferenceResponse:
    model_name: str
    outputs: Sequence[Tensor]
    model_version: str | None = None
    id: str | None = None
    parameters: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class EncodedResponse:
    body: bytes
    headers: dict[str, str]


def encode_response(response: InferenceResponse, request: InferenceRequest | None = None) -> EncodedResponse:
    """The body and headers (Content-Type, and Inference-Header-Content-Length with binary outputs) of a
    response to `request`: its `id` echoed, only the outputs it names, in its order."""
    np = numpy_module(None)
    request = request or InferenceRequest(inputs=())
    header: dict[str, Any] = {"model_name": response.model_name}
    if response.model_version is not None:
        header["model_version"] = response.model_version
    request_id = response.id if response.id is not None else request.id
    if request_id is not None:
        header["id"] = request_id
    if response.parameters:
        header["parameters"] = dict(response.parameters)
    outputs, chunks = [], []
    for tensor, binary in _selected(response.outputs, request):
        described: dict[str, Any] = {"name": tensor.name, "datatype": tensor.datatype, "shape": list(tensor.shape)}
        parameters = dict(tensor.parameters)
        if binary:
            chunks.append(to_binary(tensor, np))
            parameters[BINARY_DATA_SIZE] = len(chunks[-1])
        else:
            described["data"] = to_json(tensor, np)
        if parameters:
            described["parameters"] = parameters
        outputs.append(described)
    header["outputs"] = outputs
    text = json.dumps(header, separators=(",", ":")).encode()
    if not chunks:
        return EncodedResponse(text, {"Content-Type": JSON_TYPE})
    headers = {"Content-Type": BINARY_TYPE, HEADER_LENGTH: str(len(text))}
    return EncodedResponse(b"".join((text, *chunks)), headers)


def _selected(outputs: Sequence[Tensor], request: InferenceRequest) -> list[tuple[Tensor, bool]]:
    """(tensor, as binary) for each output to send: the requested ones in their order, else all of them."""
    default = request.binary_data_output
    if not request.outputs:
        return [(tensor, default) for tensor in outputs]
    by_name = {tensor.name: tensor for tensor in outputs}
    selected = []
    for wanted in request.outputs:
        tensor = by_name.get(wanted.name)
        if tensor is None:
            hint = did_you_mean(wanted.name, by_name)
            raise BadRequest(f"the model has no output {wanted.name!r}{hint}; outputs: {list(by_name)}")
        selected.append((tensor, default if wanted.binary_data is None else wanted.binary_data))
    return selected
