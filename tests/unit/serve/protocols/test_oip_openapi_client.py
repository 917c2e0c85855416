"""The OIP codec against the Open Inference Protocol's own REST models (open-inference-openapi).

KServe's Python SDK (`kserve`) is not used here: it pins psutil<6, which would downgrade this project's psutil,
and importing its InferRequest loads the whole KServe server (FastAPI, Kubernetes client, gRPC). The OIP
working group's generated client carries the same v2 REST schema that KServe serves.
"""

from __future__ import annotations

import numpy as np
from open_inference.openapi import types as oip_types

from smtoolkit.serve.protocols.oip import (
    InferenceResponse,
    Tensor,
    TensorMetadata,
    encode_response,
    model_metadata,
    parse_request,
    server_metadata,
)


def _request() -> oip_types.InferenceRequest:
    """A request validated by the client's models (whose TensorData sends every number as a float)."""
    inputs = [
        {"name": "x", "shape": [2, 2], "datatype": "FP32", "data": [[1.5, 2], [3, 4]]},
        {"name": "n", "shape": [3], "datatype": "INT64", "data": [7, 8, 9]},
        {"name": "s", "shape": [1], "datatype": "BYTES", "data": ["hi"]},
    ]
    return oip_types.InferenceRequest.parse_obj({"id": "abc", "inputs": inputs, "outputs": [{"name": "y"}]})


def test_parses_an_openapi_request_and_answers_what_it_reads() -> None:
    request = parse_request(_request().json().encode())
    np.testing.assert_array_equal(request.input("x").data, np.array([[1.5, 2], [3, 4]], np.float32))
    np.testing.assert_array_equal(request.input("n").data, [7, 8, 9])
    assert list(request.input("s").data) == [b"hi"]
    outputs = [Tensor.from_array("y", request.input("x").data.sum(axis=1)), Tensor.from_array("n", np.ones(2))]
    encoded = encode_response(InferenceResponse("sum", outputs, model_version="3"), request)
    response = oip_types.InferenceResponse.parse_raw(encoded.body)
    assert response.id == "abc" and response.model_name == "sum" and response.model_version == "3"
    (output,) = response.outputs
    assert (output.name, output.datatype, output.shape) == ("y", "FP32", [2])
    assert output.data.__root__ == [3.5, 7.0]


def test_metadata_bodies_match_the_openapi_models() -> None:
    server = oip_types.MetadataServerResponse.parse_obj(server_metadata("1.2.3"))
    assert server.name == "smtoolkit" and server.extensions == ["binary_tensor_data"]
    example = Tensor.from_array("x", np.zeros((8, 3), np.float32))
    body = model_metadata(
        "sum",
        inputs=[TensorMetadata.like(example)],
        outputs=[TensorMetadata("y", "FP32", (-1,))],
        versions=["3"],
    )
    model = oip_types.MetadataModelResponse.parse_obj(body)
    assert model.versions == ["3"] and model.platform == ""
    assert [(t.name, t.datatype, t.shape) for t in model.inputs or []] == [("x", "FP32", [-1, 3])]
