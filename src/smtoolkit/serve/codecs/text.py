"""Built-in text codecs: application/json, application/jsonlines, text/csv, text/plain.

numpy is imported inside the functions that need it, never when this module is imported.
"""

from __future__ import annotations

import codecs
import csv
import functools
import io
import json
import math
from collections.abc import Mapping
from typing import Any


@functools.lru_cache(maxsize=64)
def _decoding_for(charset: str) -> str:
    """The Python codec for a charset parameter (UTF-8 dropping a byte order mark); ValueError if unknown."""
    try:
        name = codecs.lookup(charset).name
    except LookupError:
        raise ValueError(f"unknown charset {charset!r}") from None
    return "utf-8-sig" if name == "utf-8" else name


def body_text(body: bytes, params: Mapping[str, str]) -> str:
    """The body as text in its charset (UTF-8 by default; a UTF-8 byte order mark is dropped)."""
    charset = params.get("charset", "utf-8").strip().lower() or "utf-8"
    name = _decoding_for(charset)
    try:
        return body.decode(name)
    except UnicodeDecodeError as exc:
        raise ValueError(f"not valid {charset} at byte {exc.start}") from None


def numeric_array_or_value(value: Any) -> Any:
    """A non-empty JSON array of numbers (nested, rectangular) as a numpy array; anything else unchanged."""
    if not isinstance(value, list) or not value:
        return value
    try:
        import numpy as np
    except ImportError:  # numpy is the user's choice, not a dependency: plain lists then
        return value

    try:
        array = np.asarray(value)
    except ValueError:  # ragged
        return value
    return array if array.dtype.kind in "biuf" else value


def _jsonable(value: Any) -> Any:
    if hasattr(value, "tolist"):  # numpy arrays and scalars, pandas Series
        return value.tolist()
    if hasattr(value, "to_numpy"):  # a pandas DataFrame: its rows
        return value.to_numpy().tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def decode_json(body: bytes, params: Mapping[str, str]) -> Any:
    try:
        value = json.loads(body_text(body, params))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{exc.msg} at line {exc.lineno} column {exc.colno}") from None
    return numeric_array_or_value(value)


def encode_json(data: Any) -> bytes:
    return json.dumps(data, default=_jsonable).encode("utf-8")


def decode_jsonlines(body: bytes, params: Mapping[str, str]) -> Any:
    """One JSON value per non-blank line; numeric rows of one length become a 2-D array."""
    values = []
    for number, line in enumerate(body_text(body, params).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            values.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise ValueError(f"line {number}: {exc.msg} at column {exc.colno}") from None
    if not values:
        raise ValueError("no JSON lines")
    return numeric_array_or_value(values)


def _items(data: Any) -> list[Any]:
    """The top-level items of a prediction: rows of an array, elements of a list, else the value itself."""
    if hasattr(data, "to_numpy") and not hasattr(data, "tolist"):  # a pandas DataFrame
        data = data.to_numpy()
    if hasattr(data, "tolist"):
        data = data.tolist()
    if isinstance(data, list | tuple):
        return list(data)
    return [data]


def encode_jsonlines(data: Any) -> bytes:
    items = [data] if isinstance(data, Mapping) else _items(data)
    return "".join(json.dumps(item, default=_jsonable) + "\n" for item in items).encode("utf-8")


def _cell(text: str, line: int, column: int) -> float:
    if not text.strip():
        return math.nan
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"line {line}, column {column}: {text!r} is not a number") from None


def _csv_rows(text: str) -> tuple[list[int], list[list[str]]]:
    """The non-blank rows and their line numbers. Without quotes or carriage returns a CSV line is a plain
    split on commas (the common case, several times faster than csv.reader); otherwise csv.reader reads it."""
    if '"' not in text and "\r" not in text:
        numbered = [(number, line.split(",")) for number, line in enumerate(text.split("\n"), 1) if line]
        return [number for number, _ in numbered], [row for _, row in numbered]
    reader = csv.reader(io.StringIO(text))
    lines, rows = [], []
    try:
        for row in reader:
            if row:
                lines.append(reader.line_num)
                rows.append(row)
    except csv.Error as exc:
        raise ValueError(f"line {reader.line_num}: {exc}") from None
    return lines, rows


def decode_csv(body: bytes, params: Mapping[str, str]) -> Any:
    """Rows of numbers as a 2-D float64 array (rows x columns); an empty field is NaN, blank lines skipped."""
    lines, rows = _csv_rows(body_text(body, params))
    if not rows:
        raise ValueError("no rows")
    width = len(rows[0])
    for line, row in zip(lines, rows, strict=True):
        if len(row) != width:
            raise ValueError(f"line {line} has {len(row)} fields, line {lines[0]} has {width}")
    try:
        import numpy as np
    except ImportError:  # without numpy: a list of rows of floats
        return [
            [_cell(text, line, col) for col, text in enumerate(row, 1)] for line, row in zip(lines, rows, strict=True)
        ]
    try:
        return np.array(rows, dtype=np.float64)
    except ValueError:  # empty fields or text: the slow path names the first bad cell
        return np.array(
            [
                [_cell(text, line, col) for col, text in enumerate(row, 1)]
                for line, row in zip(lines, rows, strict=True)
            ],
            dtype=np.float64,
        )


def encode_csv(data: Any) -> bytes:
    """One line per row of a 2-D array or list of rows; one line per element of a 1-D one."""
    if isinstance(data, Mapping):
        raise TypeError("a mapping has no CSV form")
    dtype, ndim, size = getattr(data, "dtype", None), getattr(data, "ndim", 3), getattr(data, "size", 0)
    if getattr(dtype, "kind", "") in "biuf" and ndim in (1, 2) and size:  # numbers need no quoting
        values = data.tolist()
        lines = map(str, values) if ndim == 1 else (",".join(map(str, row)) for row in values)
        return ("\n".join(lines) + "\n").encode("utf-8")
    rows = [list(item) if isinstance(item, list | tuple) else [item] for item in _items(data)]
    if ndim > 2 and any(isinstance(cell, list | tuple | Mapping) for row in rows for cell in row):
        raise ValueError("CSV needs rows of single values (at most two dimensions)")
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue().encode("utf-8")


def decode_text(body: bytes, params: Mapping[str, str]) -> str:
    return body_text(body, params)


def encode_text(data: Any) -> bytes:
    """A string as is; bytes unchanged; an array or list one item per line; anything else str()."""
    if isinstance(data, bytes):
        return data
    if isinstance(data, str):
        return data.encode("utf-8")
    if hasattr(data, "tolist") or isinstance(data, list | tuple):
        return "".join(f"{item}\n" for item in _items(data)).encode("utf-8")
    return str(data).encode("utf-8")
