"""Tensor: one named, typed, shaped OIP tensor, and its `data` to and from JSON.

With numpy importable, `data` is an ndarray of the datatype's dtype (BYTES: an object array of bytes), shaped as
`shape`. Without numpy, `data` is nested Python lists following `shape` (bool, int, float or bytes elements).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from smtoolkit.errors import BadRequest, ServeError
from smtoolkit.serve.protocols.oip.datatypes import DataType, datatype, from_numpy_dtype


@dataclass(frozen=True)
class Tensor:
    name: str
    shape: tuple[int, ...]
    datatype: str
    data: Any
    parameters: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_array(cls, name: str, array: Any, parameters: Mapping[str, Any] | None = None) -> Tensor:
        """A tensor from a numpy array, its datatype from the array's dtype."""
        return cls(name, tuple(array.shape), from_numpy_dtype(array.dtype).name, array, dict(parameters or {}))


def numpy_module(use_numpy: bool | None) -> ModuleType | None:
    """numpy when asked for (None: when importable), else None: data stays Python lists."""
    if use_numpy is False:
        return None
    try:
        import numpy
    except ImportError:
        if use_numpy:
            raise
        return None
    return numpy


def element_count(shape: Sequence[int]) -> int:
    return math.prod(shape)


def flatten(data: Any) -> list[Any]:
    """Row-major elements of a flat or nested list."""
    if not isinstance(data, list | tuple):
        return [data]
    if not any(isinstance(item, list | tuple) for item in data):
        return list(data)
    flat: list[Any] = []
    for item in data:
        flat.extend(flatten(item) if isinstance(item, list | tuple) else (item,))
    return flat


def nest(flat: Sequence[Any], shape: Sequence[int]) -> Any:
    """Row-major `flat` as nested lists of `shape` (the bare element for a scalar shape [])."""
    if not shape:
        return flat[0]
    if len(shape) == 1:
        return list(flat)
    step = element_count(shape[1:])
    return [nest(flat[i * step : (i + 1) * step], shape[1:]) for i in range(shape[0])]


def _check_element(value: Any, dtype: DataType) -> Any:
    """`value` as the Python value of one `dtype` element; ValueError when it is not one."""
    kind = dtype.kind
    if kind == "float" and type(value) in (int, float):
        return float(value)
    if kind == "int" and type(value) is float and value.is_integer():
        value = int(value)  # JSON numbers have no integer type: 7.0 is 7 (some clients send floats only)
    if kind == "int" and type(value) is int and dtype.low <= value <= dtype.high:
        return value
    if kind == "bool" and type(value) is bool:
        return value
    if kind == "bytes" and isinstance(value, str | bytes):
        return value.encode() if isinstance(value, str) else value
    raise ValueError(_expected(dtype))


_EXPECTED = {"float": "numbers", "bool": "true or false", "bytes": "strings"}


def _expected(dtype: DataType) -> str:
    if dtype.kind == "int":
        return f"{dtype.name} elements are integers from {dtype.low} to {dtype.high}"
    return f"{dtype.name} elements are {_EXPECTED[dtype.kind]}"


def _count_error(where: str, shape: Sequence[int], found: int) -> BadRequest:
    return BadRequest(f"{where}: shape {list(shape)} needs {element_count(shape)} elements; data has {found}")


def from_json(data: Any, dtype: DataType, shape: Sequence[int], where: str, np: ModuleType | None) -> Any:
    """A request tensor's JSON `data` (flat or nested, row-major) checked against datatype and shape."""
    if not isinstance(data, list):
        raise BadRequest(f"{where}: data must be a list of {dtype.name} elements, got {type(data).__name__}")
    if np is not None and dtype.kind != "bytes":
        return _json_to_array(data, dtype, shape, where, np)
    flat = flatten(data)
    if len(flat) != element_count(shape):
        raise _count_error(where, shape, len(flat))
    try:
        flat = [_check_element(value, dtype) for value in flat]
    except ValueError as exc:
        bad = next(i for i, v in enumerate(flat) if not _is_element(v, dtype))
        raise BadRequest(f"{where}: element {bad} is {flat[bad]!r}; {exc}") from None
    if np is not None:
        array = np.empty(len(flat), dtype=object)
        array[:] = flat
        return array.reshape(shape)
    return nest(flat, shape)


def _is_element(value: Any, dtype: DataType) -> bool:
    try:
        _check_element(value, dtype)
    except ValueError:
        return False
    return True


_NUMPY_KINDS = {"bool": "b", "int": "iu", "float": "iuf"}


def _json_to_array(data: list[Any], dtype: DataType, shape: Sequence[int], where: str, np: ModuleType) -> Any:
    try:
        array = np.asarray(data)
    except (ValueError, OverflowError):  # ragged nesting: the row-major order of the elements still defines it
        array = np.asarray(flatten(data))
    if array.size != element_count(shape):
        raise _count_error(where, shape, array.size)
    if dtype.kind == "int" and array.dtype.kind == "f" and _integral(array, np):
        array = array.astype(np.int64 if array.min() < 0 else np.uint64)  # 7.0 is the JSON number 7
    if array.size and array.dtype.kind not in _NUMPY_KINDS[dtype.kind]:
        flat = flatten(data)  # the values as sent: numpy has already turned them into one type
        bad = next((i for i, v in enumerate(flat) if not _is_element(v, dtype)), 0)
        raise BadRequest(f"{where}: element {bad} is {flat[bad]!r}; {_expected(dtype)}")
    if dtype.kind == "int" and array.size and (array.min() < dtype.low or array.max() > dtype.high):
        raise BadRequest(f"{where}: {_expected(dtype)}; data holds {array.min()}..{array.max()}")
    return array.astype(dtype.numpy_name, copy=False).reshape(shape)


def _integral(array: Any, np: ModuleType) -> bool:
    """Whether a float array holds whole numbers that fit a 64-bit integer."""
    return bool(array.size and np.isfinite(array).all() and (array % 1 == 0).all() and np.abs(array).max() < 2**63)


def to_json(tensor: Tensor, np: ModuleType | None) -> list[Any]:
    """A response tensor's data as a flat row-major JSON list; ServeError naming the tensor when it does not
    match its shape or datatype (BYTES elements must be UTF-8 text in JSON: binary_data carries any bytes)."""
    where = f"output {tensor.name!r}"
    dtype = datatype(tensor.datatype, where, ServeError)
    is_array = np is not None and isinstance(tensor.data, np.ndarray)
    if is_array:
        array = tensor.data if dtype.kind == "bytes" else tensor.data.astype(dtype.numpy_name, copy=False)
        flat = array.ravel().tolist()
    else:
        flat = flatten(tensor.data)
    if len(flat) != element_count(tensor.shape):
        raise ServeError(
            f"{where}: shape {list(tensor.shape)} needs {element_count(tensor.shape)} elements; "
            f"the model gave {len(flat)}"
        )
    if dtype.kind != "bytes":
        return flat if is_array else [_output_element(v, dtype, where, i) for i, v in enumerate(flat)]
    try:
        return [v.decode() if isinstance(v, bytes) else str(v) for v in flat]
    except UnicodeDecodeError:
        raise ServeError(f"{where}: a BYTES element is not UTF-8 text; request it with binary_data") from None


def _output_element(value: Any, dtype: DataType, where: str, index: int) -> Any:
    try:
        return _check_element(value, dtype)
    except ValueError as exc:
        raise ServeError(f"{where}: element {index} is {value!r}; {exc}") from None
