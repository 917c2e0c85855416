"""The OIP codec against tritonclient's own request builder and response reader (JSON and binary tensors)."""

from __future__ import annotations

import numpy as np
import pytest
import tritonclient.http as triton
from tritonclient.utils import triton_to_np_dtype

from smtoolkit.serve.protocols.oip import (
    HEADER_LENGTH,
    InferenceRequest,
    InferenceResponse,
    Tensor,
    encode_response,
    parse_request,
)

FP32 = np.arange(6, dtype=np.float32).reshape(2, 3)
INT64 = np.array([[1, -2], [3, 2**40]], dtype=np.int64)
BYTES = np.array([b"ab", b"", b"\xff\x00c"], dtype=object)  # any bytes: binary only
TEXT = np.array([b"ab", b"", "h\u00e9".encode()], dtype=object)  # UTF-8: JSON too


def _triton_request(binary: bool, outputs: list[triton.InferRequestedOutput] | None = None) -> tuple[bytes, str | None]:
    inputs = []
    for name, array, datatype in (
        ("x", FP32, "FP32"),
        ("i", INT64, "INT64"),
        ("s", BYTES if binary else TEXT, "BYTES"),
    ):
        tensor = triton.InferInput(name, list(array.shape), datatype)
        tensor.set_data_from_numpy(array, binary_data=binary)
        inputs.append(tensor)
    body, header_length = triton.InferenceServerClient.generate_request_body(inputs, outputs, request_id="req-7")
    return body, None if header_length is None else str(header_length)


def _read(encoded: bytes, headers: dict[str, str]) -> triton.InferResult:
    length = headers.get(HEADER_LENGTH)
    return triton.InferResult.from_response_body(encoded, header_length=int(length) if length else None)


@pytest.mark.parametrize("binary", [True, False], ids=["binary", "json"])
def test_parses_tritonclient_requests(binary: bool) -> None:
    body, header_length = _triton_request(binary)
    assert (header_length is not None) is binary
    request = parse_request(body, header_length)
    assert request.id == "req-7"
    x, i = request.input("x"), request.input("i")
    assert x.datatype == "FP32" and x.shape == (2, 3) and x.data.dtype == np.float32
    np.testing.assert_array_equal(x.data, FP32)
    assert i.data.dtype == np.int64
    np.testing.assert_array_equal(i.data, INT64)
    assert "binary_data_size" not in x.parameters
    assert list(request.input("s").data) == list(BYTES if binary else TEXT)
    if binary:
        assert not x.data.flags.writeable  # a view of the request body, not a copy
    # without outputs, tritonclient asks for every output in binary
    assert request.binary_data_output is True


def test_json_bytes_elements_arrive_as_bytes() -> None:
    tensor = triton.InferInput("s", [2], "BYTES")
    tensor.set_data_from_numpy(np.array(["héllo", "x"], dtype=object), binary_data=False)
    body, _ = triton.InferenceServerClient.generate_request_body([tensor])
    assert list(parse_request(body).input("s").data) == ["héllo".encode(), b"x"]


def _response(request: InferenceRequest) -> InferenceResponse:
    outputs = [
        Tensor.from_array("y", request.input("x").data * 2),
        Tensor.from_array("i", request.input("i").data),
        Tensor("s", (3,), "BYTES", request.input("s").data),
    ]
    return InferenceResponse("echo", outputs, model_version="1")


@pytest.mark.parametrize("binary", [True, False], ids=["binary", "json"])
def test_tritonclient_reads_responses(binary: bool) -> None:
    outputs = [triton.InferRequestedOutput(name, binary_data=binary) for name in ("y", "i")]
    body, header_length = _triton_request(binary=True, outputs=outputs)
    request = parse_request(body, header_length)
    encoded = encode_response(_response(request), request)
    assert (HEADER_LENGTH in encoded.headers) is binary
    result = _read(encoded.body, encoded.headers)
    np.testing.assert_array_equal(result.as_numpy("y"), FP32 * 2)
    np.testing.assert_array_equal(result.as_numpy("i"), INT64)
    assert result.as_numpy("s") is None  # not requested, so not sent
    response = result.get_response()
    assert response["id"] == "req-7" and response["model_name"] == "echo" and response["model_version"] == "1"
    assert [output["name"] for output in response["outputs"]] == ["y", "i"]


def test_binary_bytes_output_round_trips_any_bytes() -> None:
    body, header_length = _triton_request(binary=True)  # no outputs named: binary_data_output
    request = parse_request(body, header_length)
    encoded = encode_response(_response(request), request)
    assert list(_read(encoded.body, encoded.headers).as_numpy("s")) == list(BYTES)


def test_mixed_binary_and_json_outputs() -> None:
    outputs = [triton.InferRequestedOutput("y", binary_data=False), triton.InferRequestedOutput("s")]
    body, header_length = _triton_request(binary=True, outputs=outputs)
    request = parse_request(body, header_length)
    encoded = encode_response(_response(request), request)
    result = _read(encoded.body, encoded.headers)
    assert "data" in result.get_output("y") and "data" not in result.get_output("s")
    np.testing.assert_array_equal(result.as_numpy("y"), FP32 * 2)
    assert list(result.as_numpy("s")) == list(BYTES)


@pytest.mark.parametrize("datatype", ["BOOL", "INT8", "UINT8", "UINT16", "INT32", "UINT64", "FP16", "FP64"])
def test_every_fixed_size_datatype_round_trips_binary(datatype: str) -> None:
    dtype = triton_to_np_dtype(datatype)
    array = (np.arange(4) % 2).astype(dtype).reshape(2, 2)
    tensor = triton.InferInput("t", [2, 2], datatype)
    tensor.set_data_from_numpy(array)
    body, header_length = triton.InferenceServerClient.generate_request_body([tensor])
    request = parse_request(body, str(header_length))
    assert request.input("t").data.dtype == dtype
    encoded = encode_response(InferenceResponse("m", [request.input("t")]), request)
    np.testing.assert_array_equal(_read(encoded.body, encoded.headers).as_numpy("t"), array)
