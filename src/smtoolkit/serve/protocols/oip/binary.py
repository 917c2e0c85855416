"""The binary tensor data extension: tensors as raw little-endian bytes after the JSON header.

Fixed-size datatypes are packed row-major without padding (BOOL one byte, 0 or 1); a BYTES element is a 4-byte
little-endian length followed by that many bytes.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from types import ModuleType
from typing import Any

from smtoolkit.errors import BadRequest, ServeError
from smtoolkit.serve.protocols.oip.datatypes import DataType, datatype
from smtoolkit.serve.protocols.oip.tensor import Tensor, element_count, flatten, nest

_LENGTH = struct.Struct("<I")


def from_binary(buffer: memoryview, dtype: DataType, shape: Sequence[int], where: str, np: ModuleType | None) -> Any:
    """A request tensor's `binary_data_size` bytes as data of `shape` (an ndarray viewing `buffer` with numpy)."""
    count = element_count(shape)
    if dtype.kind == "bytes":
        elements = _split_bytes(buffer, count, where)
        if np is None:
            return nest(elements, shape)
        array = np.empty(count, dtype=object)
        array[:] = elements
        return array.reshape(shape)
    if len(buffer) != count * dtype.size:
        raise BadRequest(
            f"{where}: binary_data_size is {len(buffer)} bytes; shape {list(shape)} of {dtype.name} "
            f"needs {count * dtype.size} ({count} x {dtype.size})"
        )
    if np is not None:
        return np.frombuffer(buffer, dtype=dtype.numpy_name).reshape(shape)
    return nest(struct.unpack(f"<{count}{dtype.struct_code}", buffer), shape)


def _split_bytes(buffer: memoryview, count: int, where: str) -> list[bytes]:
    elements: list[bytes] = []
    offset, end = 0, len(buffer)
    while offset < end:
        if end - offset < _LENGTH.size:
            raise BadRequest(f"{where}: BYTES element {len(elements)} has a truncated 4-byte length prefix")
        (size,) = _LENGTH.unpack_from(buffer, offset)
        offset += _LENGTH.size
        if size > end - offset:
            raise BadRequest(
                f"{where}: BYTES element {len(elements)} claims {size} bytes; only {end - offset} remain "
                "in its binary_data_size"
            )
        elements.append(bytes(buffer[offset : offset + size]))
        offset += size
    if len(elements) != count:
        raise BadRequest(f"{where}: shape needs {count} BYTES elements; binary data holds {len(elements)}")
    return elements


def to_binary(tensor: Tensor, np: ModuleType | None) -> bytes:
    """A response tensor's data as binary extension bytes; ServeError naming the tensor on a mismatch."""
    where = f"output {tensor.name!r}"
    dtype = datatype(tensor.datatype, where, ServeError)
    count = element_count(tensor.shape)
    is_array = np is not None and isinstance(tensor.data, np.ndarray)
    if is_array and dtype.kind != "bytes":
        if tensor.data.size != count:
            raise _count_error(where, tensor.shape, tensor.data.size)
        return bytes(tensor.data.astype(dtype.numpy_name, copy=False).tobytes())
    flat = tensor.data.ravel().tolist() if is_array else flatten(tensor.data)
    if len(flat) != count:
        raise _count_error(where, tensor.shape, len(flat))
    if dtype.kind == "bytes":
        return b"".join(_LENGTH.pack(len(e)) + e for e in (_as_bytes(v, where) for v in flat))
    try:
        return struct.pack(f"<{count}{dtype.struct_code}", *flat)
    except struct.error as exc:
        raise ServeError(f"{where}: data does not fit {dtype.name}: {exc}") from None


def _as_bytes(value: Any, where: str) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode()
    raise ServeError(f"{where}: a BYTES element is a {type(value).__name__}; expected bytes or str")


def _count_error(where: str, shape: Sequence[int], found: int) -> ServeError:
    return ServeError(f"{where}: shape {list(shape)} needs {element_count(shape)} elements; the model gave {found}")
