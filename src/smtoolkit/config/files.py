"""Reading the platform's JSON files and variables; errors say which file, where, and what was wrong."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from smtoolkit.errors import ConfigError, Problem

ModelT = TypeVar("ModelT", bound=BaseModel)


def parse_json_text(text: str | bytes, source: str, expect: type = dict) -> Any:
    """Parse JSON from a file or variable, raising ConfigError that names `source` and what was expected."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ConfigError.single(
                source, f"is not valid UTF-8 (byte {exc.object[exc.start]:#04x} at offset {exc.start})"
            ) from None
    if not text.strip():
        raise ConfigError.single(source, f"is empty; expected a JSON {_kind(expect)}")
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError.single(
            source, f"is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    if not isinstance(value, expect):
        raise ConfigError.single(source, f"expected a JSON {_kind(expect)}, got {_kind(type(value))}")
    return value


def read_json_file(path: Path, expect: type = dict) -> Any | None:
    """The decoded content of `path`, or None when the file does not exist."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ConfigError.single(str(path), f"cannot be read: {exc.strerror}") from None
    return parse_json_text(data, str(path), expect)


def validate(model: type[ModelT], data: Any, source: str, field_prefix: str = "") -> ModelT:
    """Validate `data` into `model`; every problem names the source, the field and what was expected."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(problems_from(exc, source, field_prefix)) from None


def problems_from(exc: ValidationError, source: str, field_prefix: str = "") -> list[Problem]:
    problems = []
    for error in exc.errors(include_url=False):
        field = field_prefix + ".".join(str(part) for part in error["loc"])
        if error["type"] == "missing":
            message = "required field is missing"
        else:
            message = f"{error['msg']} (got {_short(error.get('input'))})"
        problems.append(Problem(source=source, field=field or None, message=message))
    return problems


def _kind(kind: type) -> str:
    return {
        dict: "object",
        list: "array",
        str: "string",
        int: "number",
        float: "number",
        bool: "boolean",
        type(None): "null",
    }.get(kind, kind.__name__)


def _short(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
