"""An OIP inference request from its HTTP body: the JSON header, then the binary tensors when
Inference-Header-Content-Length says where the JSON ends. Every mistake is a BadRequest naming the field."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from smtoolkit.errors import BadRequest, did_you_mean
from smtoolkit.serve.protocols.jsonbody import check_object
from smtoolkit.serve.protocols.oip.binary import from_binary
from smtoolkit.serve.protocols.oip.datatypes import datatype
from smtoolkit.serve.protocols.oip.tensor import Tensor, from_json, numpy_module

HEADER_LENGTH = "Inference-Header-Content-Length"
BINARY_DATA_SIZE = "binary_data_size"


@dataclass(frozen=True)
class RequestedOutput:
    name: str
    binary_data: bool | None = None  # None: as the request's binary_data_output says
    parameters: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class InferenceRequest:
    inputs: tuple[Tensor, ...]
    outputs: tuple[RequestedOutput, ...] = ()
    id: str | None = None
    parameters: Mapping[str, Any] = field(default_factory=dict)

    @property
    def binary_data_output(self) -> bool:
        """Whether outputs not named in `outputs` (or without binary_data) come back as binary data."""
        return self.parameters.get("binary_data_output") is True

    def input(self, name: str) -> Tensor:
        for tensor in self.inputs:
            if tensor.name == name:
                return tensor
        names = [tensor.name for tensor in self.inputs]
        raise BadRequest(f"the request has no input {name!r}{did_you_mean(name, names)}; inputs: {names}")


def parse_request(body: bytes, header_length: str | None = None, *, use_numpy: bool | None = None) -> InferenceRequest:
    """Parse an infer request body. `header_length` is the Inference-Header-Content-Length header, if any."""
    view = memoryview(body)
    split = _header_length(header_length, len(body))
    document = _load_json(view[:split] if split is not None else view, split is not None)
    binary = view[split:] if split is not None else view[len(view) :]
    np = numpy_module(use_numpy)
    parameters = _object(document.get("parameters", {}), "parameters")
    request_id = document.get("id")
    if request_id is not None and not isinstance(request_id, str):
        raise BadRequest(f"id must be a string, got {type(request_id).__name__}")
    inputs, used = _inputs(document.get("inputs"), binary, np)
    if used != len(binary):
        raise BadRequest(
            f"{len(binary) - used} bytes after the JSON header ({HEADER_LENGTH}) belong to no input's "
            f"{BINARY_DATA_SIZE}"
        )
    return InferenceRequest(inputs, _outputs(document.get("outputs", [])), request_id, parameters)


def _header_length(value: str | None, body_size: int) -> int | None:
    if value is None:
        return None
    text = value.strip()
    if not (text.isascii() and text.isdigit()) or int(text) > body_size:
        raise BadRequest(f"{HEADER_LENGTH} must be a number of bytes from 0 to the body's {body_size}, got {value!r}")
    return int(text)


def _load_json(header: memoryview, split: bool) -> dict[str, Any]:
    try:
        document = json.loads(bytes(header))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        hint = "" if split else f"; a body with binary tensors needs the {HEADER_LENGTH} header"
        raise BadRequest(f"the request is not valid JSON: {exc}{hint}") from None
    return _object(document, "the request")


def _object(value: Any, where: str) -> dict[str, Any]:
    return check_object(value, where, (), closed=False)


def _inputs(value: Any, binary: memoryview, np: ModuleType | None) -> tuple[tuple[Tensor, ...], int]:
    """The input tensors and how many bytes of `binary` they took, in order."""
    if not isinstance(value, list):
        raise BadRequest("inputs must be a list of tensors" + (", got nothing" if value is None else ""))
    tensors: list[Tensor] = []
    offset = 0
    for index, item in enumerate(value):
        tensor, offset = _input(item, f"inputs[{index}]", binary, offset, np)
        if any(t.name == tensor.name for t in tensors):
            raise BadRequest(f"input {tensor.name!r} is given twice")
        tensors.append(tensor)
    return tuple(tensors), offset


def _input(item: Any, where: str, binary: memoryview, offset: int, np: ModuleType | None) -> tuple[Tensor, int]:
    item = _object(item, where)
    name = item.get("name")
    if not isinstance(name, str) or not name:
        raise BadRequest(f"{where}: name must be a non-empty string")
    where = f"input {name!r}"
    shape = item.get("shape")
    if not isinstance(shape, list) or not all(type(d) is int and d >= 0 for d in shape):
        raise BadRequest(f"{where}: shape must be a list of non-negative integers, got {shape!r}")
    dtype = datatype(item.get("datatype"), where)
    parameters = _object(item.get("parameters", {}), f"{where}: parameters")
    size = parameters.get(BINARY_DATA_SIZE)
    if size is None:
        if "data" not in item:
            raise BadRequest(f"{where}: needs data, or parameters.{BINARY_DATA_SIZE} with binary data")
        return Tensor(
            name, tuple(shape), dtype.name, from_json(item["data"], dtype, shape, where, np), parameters
        ), offset
    if type(size) is not int or size < 0 or "data" in item:
        raise BadRequest(f"{where}: {BINARY_DATA_SIZE} must be a byte count, and then the tensor has no data")
    if offset + size > len(binary):
        raise BadRequest(
            f"{where}: {BINARY_DATA_SIZE} is {size} but only {len(binary) - offset} bytes of binary data remain"
        )
    data = from_binary(binary[offset : offset + size], dtype, shape, where, np)
    rest = {key: value for key, value in parameters.items() if key != BINARY_DATA_SIZE}  # framing, not for users
    return Tensor(name, tuple(shape), dtype.name, data, rest), offset + size


def _outputs(value: Any) -> tuple[RequestedOutput, ...]:
    if not isinstance(value, list):
        raise BadRequest(f"outputs must be a list, got {type(value).__name__}")
    outputs: list[RequestedOutput] = []
    for index, item in enumerate(value):
        item = _object(item, f"outputs[{index}]")
        name = item.get("name")
        if not isinstance(name, str) or not name:
            raise BadRequest(f"outputs[{index}]: name must be a non-empty string")
        parameters = _object(item.get("parameters", {}), f"output {name!r}: parameters")
        binary = parameters.get("binary_data")
        if binary is not None and not isinstance(binary, bool):
            raise BadRequest(f"output {name!r}: parameters.binary_data must be true or false, got {binary!r}")
        if any(o.name == name for o in outputs):
            raise BadRequest(f"output {name!r} is requested twice")
        outputs.append(RequestedOutput(name, binary, parameters))
    return tuple(outputs)
