"""The Open Inference Protocol's tensor datatypes: element size, struct code, numpy dtype, JSON value kind."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from smtoolkit.errors import BadRequest, ServeError, did_you_mean

JsonKind = Literal["bool", "int", "float", "bytes"]


@dataclass(frozen=True)
class DataType:
    """One OIP datatype. `size` is the bytes of one element in the binary extension (0 for BYTES: variable)."""

    name: str
    size: int
    struct_code: str  # little-endian struct format letter; "" for BYTES
    numpy_name: str  # numpy dtype, little-endian; "object" for BYTES (elements are bytes)
    kind: JsonKind
    low: int = 0  # the integer range, for a clear error instead of a silent wrap-around
    high: int = 0


def _int(name: str, size: int, code: str, signed: bool) -> DataType:
    bits = size * 8
    low, high = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
    return DataType(name, size, code, f"<{'i' if signed else 'u'}{size}", "int", low, high)


DATATYPES: dict[str, DataType] = {
    t.name: t
    for t in (
        DataType("BOOL", 1, "?", "bool", "bool"),
        _int("INT8", 1, "b", True),
        _int("INT16", 2, "h", True),
        _int("INT32", 4, "i", True),
        _int("INT64", 8, "q", True),
        _int("UINT8", 1, "B", False),
        _int("UINT16", 2, "H", False),
        _int("UINT32", 4, "I", False),
        _int("UINT64", 8, "Q", False),
        DataType("FP16", 2, "e", "<f2", "float"),
        DataType("FP32", 4, "f", "<f4", "float"),
        DataType("FP64", 8, "d", "<f8", "float"),
        DataType("BYTES", 0, "", "object", "bytes"),
    )
}


def datatype(name: Any, where: str, error: type[ServeError] = BadRequest) -> DataType:
    """The DataType called `name`; `error` (a 400 for requests) naming `where` and the closest valid name."""
    found = DATATYPES.get(name) if isinstance(name, str) else None
    if found is None:
        hint = did_you_mean(name.upper(), DATATYPES) if isinstance(name, str) else ""
        raise error(f"{where}: datatype {name!r} is not one of {', '.join(DATATYPES)}{hint}")
    return found


def from_numpy_dtype(dtype: Any) -> DataType:
    """The OIP datatype of a numpy dtype (object, str and bytes arrays are BYTES)."""
    if dtype.kind in "OSU":
        return DATATYPES["BYTES"]
    if dtype.kind == "b":
        return DATATYPES["BOOL"]
    prefix = {"i": "INT", "u": "UINT", "f": "FP"}.get(dtype.kind)
    found = DATATYPES.get(f"{prefix}{dtype.itemsize * 8}") if prefix else None
    if found is None:
        raise ValueError(f"numpy dtype {dtype} has no Open Inference Protocol datatype")
    return found
