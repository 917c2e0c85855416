"""The `aialgs.data.Record` protobuf message of application/x-recordio-protobuf, encoded by hand.

Only the protobuf wire format is used (varints, length-delimited fields, packed repeated numbers), so
there is no protobuf dependency. Tensors keep their numbers in `array.array`; numpy is not needed here.
"""

from __future__ import annotations

import sys
from array import array
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal

TensorType = Literal["float32", "float64", "int32"]
# Value's oneof field numbers, and array typecodes for the packed values.
_TENSOR_FIELDS: dict[TensorType, int] = {"float32": 2, "float64": 3, "int32": 7}
_TENSOR_TYPES = {number: name for name, number in _TENSOR_FIELDS.items()}
_BYTES_FIELD = 9
_TYPECODES = {"float32": "f", "float64": "d", "int32": "q"}
VARINT, FIXED64, LENGTH, FIXED32 = 0, 1, 2, 5


@dataclass(frozen=True)
class Tensor:
    """Dense when `keys` is empty; sparse otherwise (`keys` are flat indices into `shape`)."""

    dtype: TensorType
    values: array[float] | array[int]
    keys: tuple[int, ...] = ()
    shape: tuple[int, ...] = ()


@dataclass(frozen=True)
class BytesValue:
    values: tuple[bytes, ...]
    content_type: str | None = None


Value = Tensor | BytesValue


@dataclass
class Record:
    features: dict[str, Value] = field(default_factory=dict)
    label: dict[str, Value] = field(default_factory=dict)
    uid: str | None = None
    metadata: str | None = None
    configuration: str | None = None


# Encoding.
def _varint(value: int) -> bytes:
    value &= (1 << 64) - 1  # negative int32 values take ten bytes, as two's complement
    out = bytearray()
    while value > 0x7F:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _tag(number: int, wire_type: int) -> bytes:
    return _varint(number << 3 | wire_type)


def _delimited(number: int, payload: bytes) -> bytes:
    return _tag(number, LENGTH) + _varint(len(payload)) + payload


def _encode_tensor(tensor: Tensor) -> bytes:
    if tensor.dtype == "int32":
        packed = b"".join(_varint(int(v)) for v in tensor.values)
    else:
        values = array(_TYPECODES[tensor.dtype], tensor.values)
        if sys.byteorder == "big":
            values.byteswap()
        packed = values.tobytes()
    parts = [_delimited(1, packed)]
    for number, numbers in ((2, tensor.keys), (3, tensor.shape)):
        if numbers:
            parts.append(_delimited(number, b"".join(_varint(n) for n in numbers)))
    return b"".join(parts)


def _encode_value(value: Value) -> bytes:
    if isinstance(value, BytesValue):
        body = b"".join(_delimited(1, item) for item in value.values)
        if value.content_type is not None:
            body += _delimited(2, value.content_type.encode())
        return _delimited(_BYTES_FIELD, body)
    return _delimited(_TENSOR_FIELDS[value.dtype], _encode_tensor(value))


def encode_record(record: Record) -> bytes:
    parts = []
    for number, mapping in ((1, record.features), (2, record.label)):
        for key, value in mapping.items():
            entry = _delimited(1, key.encode()) + _delimited(2, _encode_value(value))
            parts.append(_delimited(number, entry))
    for number, text in ((3, record.uid), (4, record.metadata), (5, record.configuration)):
        if text is not None:
            parts.append(_delimited(number, text.encode()))
    return b"".join(parts)


# Decoding.
def _read_varint(data: bytes, position: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if position >= len(data):
            raise ValueError("protobuf: truncated varint")
        byte = data[position]
        result |= (byte & 0x7F) << shift
        position += 1
        if not byte & 0x80:
            return result, position
        shift += 7
        if shift >= 70:
            raise ValueError("protobuf: varint longer than ten bytes")


def _fields(data: bytes) -> Iterator[tuple[int, int, int | bytes]]:
    """(field number, wire type, value) for each field of a message; unknown fields are yielded too."""
    position = 0
    while position < len(data):
        key, position = _read_varint(data, position)
        number, wire_type = key >> 3, key & 7
        if wire_type == VARINT:
            value, position = _read_varint(data, position)
            yield number, wire_type, value
            continue
        if wire_type == LENGTH:
            size, position = _read_varint(data, position)
        elif wire_type in (FIXED64, FIXED32):
            size = 8 if wire_type == FIXED64 else 4
        else:
            raise ValueError(f"protobuf: unsupported wire type {wire_type} for field {number}")
        if position + size > len(data):
            raise ValueError(f"protobuf: field {number} runs past the end of its message")
        yield number, wire_type, data[position : position + size]
        position += size


def _varints(data: bytes) -> list[int]:
    numbers, position = [], 0
    while position < len(data):
        number, position = _read_varint(data, position)
        numbers.append(number)
    return numbers


def _to_int32(value: int) -> int:
    value &= 0xFFFFFFFF
    return value - (1 << 32) if value & 0x80000000 else value


def _decode_tensor(dtype: TensorType, data: bytes) -> Tensor:
    values = array(_TYPECODES[dtype])
    keys: list[int] = []
    shape: list[int] = []
    for number, _, raw in _fields(data):
        if number == 1 and dtype == "int32":
            ints = _varints(raw) if isinstance(raw, bytes) else [raw]
            values.extend(_to_int32(v) for v in ints)
        elif number == 1 and isinstance(raw, bytes):  # packed, or one unpacked fixed32/fixed64
            chunk = array(_TYPECODES[dtype], raw)
            if sys.byteorder == "big":
                chunk.byteswap()
            values.extend(chunk)
        elif number in (2, 3):
            target = keys if number == 2 else shape
            target.extend(_varints(raw) if isinstance(raw, bytes) else [raw])
    return Tensor(dtype=dtype, values=values, keys=tuple(keys), shape=tuple(shape))


def _decode_value(data: bytes) -> Value:
    for number, _, raw in _fields(data):
        if number in _TENSOR_TYPES and isinstance(raw, bytes):
            return _decode_tensor(_TENSOR_TYPES[number], raw)
        if number == _BYTES_FIELD and isinstance(raw, bytes):
            items = [(n, r) for n, _, r in _fields(raw) if isinstance(r, bytes)]
            content_type = next((r.decode() for n, r in items if n == 2), None)
            return BytesValue(tuple(r for n, r in items if n == 1), content_type)
    raise ValueError("protobuf: a Record Value holds no tensor and no bytes")


def _decode_entry(data: bytes) -> tuple[str, Value]:
    key, value = "", b""
    for number, _, raw in _fields(data):
        if number == 1 and isinstance(raw, bytes):
            key = raw.decode()
        elif number == 2 and isinstance(raw, bytes):
            value = raw
    return key, _decode_value(value)


def decode_record(data: bytes) -> Record:
    """A Record from its protobuf bytes; ValueError when they are not one."""
    record = Record()
    try:
        for number, _, raw in _fields(data):
            if not isinstance(raw, bytes):
                continue
            if number in (1, 2):
                key, value = _decode_entry(raw)
                (record.features if number == 1 else record.label)[key] = value
            elif number in (3, 4, 5):
                setattr(record, ("uid", "metadata", "configuration")[number - 3], raw.decode())
    except UnicodeDecodeError as exc:
        raise ValueError(f"protobuf: a string field is not valid UTF-8 ({exc.reason})") from None
    return record
