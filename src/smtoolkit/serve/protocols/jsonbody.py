"""Request bodies that are one JSON object with known fields: parsed and checked in one place, so every protocol's
400 names the body, then the field that is missing, unknown or of the wrong type, and what it must be.

The BadRequest raised here is answered by each protocol's own error answer ({"error": ...} on OIP and Vertex AI,
{"message": ...} on SageMaker's routes)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from smtoolkit.errors import BadRequest, did_you_mean


@dataclass(frozen=True)
class JsonField:
    """One field of a JSON object body."""

    name: str
    types: tuple[type, ...]  # what json.loads gives for an accepted value (dict, list, str, bool, int, float); () any
    expected: str  # what a value must be, in the client's words: "a list with one item per instance"
    required: bool = False
    non_empty: bool = False  # a string of spaces, or an empty list or object, is refused too


def json_object(
    body: bytes, where: str, fields: Sequence[JsonField], *, closed: bool = True, empty_is_object: bool = False
) -> dict[str, Any]:
    """The JSON object `body` holds, its `fields` checked (see check_object); BadRequest naming `where` (the body,
    as "the body of POST /models") and what is wrong. `empty_is_object`: an empty body reads as {}."""
    if empty_is_object and not body.strip():
        return check_object({}, where, fields, closed=closed)
    return check_object(json_value(body, where), where, fields, closed=closed)


def json_value(body: bytes, where: str) -> Any:
    """The JSON value `body` holds; BadRequest naming `where` when it is not JSON."""
    try:
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadRequest(f"{where} is not valid JSON: {exc}") from None


def check_object(value: Any, where: str, fields: Sequence[JsonField], *, closed: bool = True) -> dict[str, Any]:
    """`value` when it is a JSON object whose fields are as `fields` say; `closed`: it has no others."""
    names = [field.name for field in fields]
    if not isinstance(value, dict):
        listing = f" ({_fields(names)})" if names else ""
        raise BadRequest(f"{where} must be a JSON object{listing}, got {described(value)}")
    if closed:
        for key in value:
            if key not in names:
                raise BadRequest(f"{where} has an unknown field {key!r}{did_you_mean(key, names)}; {_fields(names)}")
    for field in fields:
        if field.name in value:
            _check_value(value[field.name], field, where)
        elif field.required:
            raise BadRequest(f"{where} lacks {field.name}{did_you_mean(field.name, value)}: {field.expected}")
    return value


def _check_value(value: Any, field: JsonField, where: str) -> None:
    # bool is an int to Python, never a number to a JSON client
    typed = not field.types or (bool in field.types if isinstance(value, bool) else isinstance(value, field.types))
    blank = field.non_empty and (not value.strip() if isinstance(value, str) else not value)
    if not typed or blank:
        raise BadRequest(f"{field.name} in {where} must be {field.expected}, got {described(value)}")


def described(value: Any) -> str:
    """A JSON value as a client would name it: a scalar as written, a list or object by its kind."""
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    text = json.dumps(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _fields(names: Sequence[str]) -> str:
    return f"its fields: {', '.join(names)}" if names else "it has no fields"
