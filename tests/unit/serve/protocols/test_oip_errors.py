"""Bad OIP requests and outputs: a clear error naming the tensor, the field and what was expected."""

from __future__ import annotations

import json
import struct
from typing import Any

import numpy as np
import pytest

from smtoolkit.errors import BadRequest, ServeError
from smtoolkit.serve.protocols.oip import InferenceResponse, Tensor, encode_response, parse_request
from smtoolkit.serve.protocols.oip.request import InferenceRequest, RequestedOutput


def _body(*inputs: dict[str, Any], **extra: Any) -> bytes:
    return json.dumps({"inputs": list(inputs), **extra}).encode()


def _tensor(**fields: Any) -> dict[str, Any]:
    return {"name": "x", "shape": [2, 2], "datatype": "FP32", "data": [1, 2, 3, 4], **fields}


@pytest.mark.parametrize(
    ("body", "header", "expected"),
    [
        (b"{not json", None, "not valid JSON"),
        (b'{"inputs": []}\x00\x01', None, "needs the Inference-Header-Content-Length header"),
        (b"[1]", None, "must be a JSON object"),
        (b"{}", None, "inputs must be a list of tensors, got nothing"),
        (_body(_tensor(), id=7), None, "id must be a string"),
        (_body(_tensor()), "abc", "Inference-Header-Content-Length must be a number"),
        (_body(_tensor()), "99999", "Inference-Header-Content-Length must be a number of bytes from 0 to"),
        (_body(_tensor(name="")), None, "inputs[0]: name must be a non-empty string"),
        (_body(_tensor(shape=[2, -1])), None, "input 'x': shape must be a list of non-negative integers"),
        (_body(_tensor(datatype="FP23")), None, "input 'x': datatype 'FP23' is not one of BOOL"),
        (_body(_tensor(datatype="fp32")), None, "(did you mean FP32?)"),
        (_body(_tensor(data=[1, 2, 3])), None, "input 'x': shape [2, 2] needs 4 elements; data has 3"),
        (_body(_tensor(data=[[1, 2], [3, 4], [5, 6]])), None, "needs 4 elements; data has 6"),
        (_body(_tensor(data=[1, 2, "a", 4])), None, "input 'x': element 2 is 'a'; FP32 elements are numbers"),
        (_body(_tensor(datatype="INT8", data=[1, 2, 3, 300])), None, "INT8 elements are integers from -128 to 127"),
        (_body(_tensor(datatype="INT32", data=[1, 2, 3, 4.5])), None, "element 3 is 4.5; INT32 elements are integers"),
        (_body(_tensor(datatype="INT64", data=[1, 2, 3, 1e30])), None, "element 3 is 1e+30; INT64 elements are"),
        (_body(_tensor(datatype="BOOL", data=[1, 0, 1, 0])), None, "BOOL elements are true or false"),
        (_body(_tensor(datatype="BYTES", data=["a", "b", "c", 4])), None, "element 3 is 4; BYTES elements are strings"),
        (_body(_tensor(data="1,2,3,4")), None, "input 'x': data must be a list of FP32 elements, got str"),
        (_body(_tensor(), _tensor()), None, "input 'x' is given twice"),
        (_body({"name": "x", "shape": [1], "datatype": "FP32"}), None, "input 'x': needs data"),
        (_body(_tensor(parameters=[])), None, "input 'x': parameters must be a JSON object"),
        (_body(_tensor(), parameters=1), None, "parameters must be a JSON object, got 1"),
        (_body(_tensor(), outputs={"name": "y"}), None, "outputs must be a list, got dict"),
        (_body(_tensor(), outputs=[{"name": "y"}, {"name": "y"}]), None, "output 'y' is requested twice"),
        (
            _body(_tensor(), outputs=[{"name": "y", "parameters": {"binary_data": "yes"}}]),
            None,
            "output 'y': parameters.binary_data must be true or false",
        ),
    ],
)
def test_bad_requests_name_what_is_wrong(body: bytes, header: str | None, expected: str) -> None:
    with pytest.raises(BadRequest) as caught:
        parse_request(body, header)
    assert expected in str(caught.value)
    with pytest.raises(BadRequest) as without_numpy:
        parse_request(body, header, use_numpy=False)
    assert expected in str(without_numpy.value)


def _binary(size: int, payload: bytes, datatype: str = "FP32", shape: list[int] | None = None) -> tuple[bytes, str]:
    header = _body({"name": "x", "shape": shape or [2], "datatype": datatype, "parameters": {"binary_data_size": size}})
    return header + payload, str(len(header))


@pytest.mark.parametrize(
    ("request_parts", "expected"),
    [
        (_binary(8, b"\0" * 4), "input 'x': binary_data_size is 8 but only 4 bytes of binary data remain"),
        (_binary(4, b"\0" * 4), "input 'x': binary_data_size is 4 bytes; shape [2] of FP32 needs 8 (2 x 4)"),
        (_binary(8, b"\0" * 12), "4 bytes after the JSON header (Inference-Header-Content-Length) belong to no input"),
        (_binary(-1, b""), "input 'x': binary_data_size must be a byte count"),
        (_binary(3, b"\x05\0\0", "BYTES"), "BYTES element 0 has a truncated 4-byte length prefix"),
        (_binary(6, struct.pack("<I", 9) + b"ab", "BYTES"), "BYTES element 0 claims 9 bytes; only 2 remain"),
        (_binary(6, struct.pack("<I", 2) + b"ab", "BYTES"), "shape needs 2 BYTES elements; binary data holds 1"),
    ],
)
def test_bad_binary_data_names_the_tensor(request_parts: tuple[bytes, str], expected: str) -> None:
    for use_numpy in (True, False):
        with pytest.raises(BadRequest) as caught:
            parse_request(*request_parts, use_numpy=use_numpy)
        assert expected in str(caught.value)


def test_nested_and_flat_data_are_the_same_tensor() -> None:
    flat = parse_request(_body(_tensor())).input("x").data
    nested = parse_request(_body(_tensor(data=[[1, 2], [3, 4]]))).input("x").data
    np.testing.assert_array_equal(flat, nested)
    assert flat.dtype == np.float32 and flat.shape == (2, 2)
    assert parse_request(_body(_tensor(data=[[1, 2], [3, 4]])), use_numpy=False).input("x").data == [
        [1.0, 2.0],
        [3.0, 4.0],
    ]


def test_ragged_nesting_counts_its_elements() -> None:
    for use_numpy in (True, False):
        request = parse_request(_body(_tensor(shape=[3], data=[[1, 2], [3]])), use_numpy=use_numpy)
        assert list(request.input("x").data) == [1.0, 2.0, 3.0]


def test_unknown_input_name_suggests_the_closest() -> None:
    request = parse_request(_body(_tensor(name="input0")))
    with pytest.raises(BadRequest, match=r"no input 'inptu0' \(did you mean input0\?\)"):
        request.input("inptu0")


def _request(*names: str) -> InferenceRequest:
    return InferenceRequest(inputs=(), outputs=tuple(RequestedOutput(name) for name in names))


def test_requested_output_the_model_lacks_is_a_400() -> None:
    response = InferenceResponse("m", [Tensor("output0", (1,), "FP32", [1.0])])
    with pytest.raises(BadRequest, match=r"no output 'outptu0' \(did you mean output0\?\)"):
        encode_response(response, _request("outptu0"))


@pytest.mark.parametrize(
    ("tensor", "expected"),
    [
        (Tensor("y", (3,), "FP32", [1.0, 2.0]), "output 'y': shape [3] needs 3 elements; the model gave 2"),
        (Tensor("y", (2,), "FP32", np.zeros(3, np.float32)), "shape [2] needs 2 elements; the model gave 3"),
        (Tensor("y", (1,), "INT8", ["a"]), "output 'y': element 0 is 'a'; INT8 elements are integers"),
        (Tensor("y", (1,), "BYTES", [b"\xff"]), "output 'y': a BYTES element is not UTF-8 text"),
        (Tensor("y", (1,), "float32", [1.0]), "output 'y': datatype 'float32' is not one of"),
    ],
)
def test_outputs_that_do_not_match_are_a_server_error(tensor: Tensor, expected: str) -> None:
    with pytest.raises(ServeError) as caught:
        encode_response(InferenceResponse("m", [tensor]))
    assert caught.value.status == 500 and expected in str(caught.value)
