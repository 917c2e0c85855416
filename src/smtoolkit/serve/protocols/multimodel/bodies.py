"""The JSON bodies of the multi-model routes: the POST /models request in, model descriptions and statuses out."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from smtoolkit.errors import BadRequest, did_you_mean
from smtoolkit.serve.protocols.multimodel.store import ModelRecord

LOAD_FIELDS = ("model_name", "url")


@dataclass(frozen=True)
class LoadRequest:
    model_name: str
    url: str


def parse_load_request(body: bytes) -> LoadRequest:
    """POST /models's `{"model_name": NAME, "url": PATH}`; BadRequest (400) naming what is wrong."""
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadRequest(f"the body of POST /models is not JSON: {exc}") from None
    if not isinstance(document, dict):
        raise BadRequest(
            f'the body of POST /models is a JSON {type(document).__name__}; expected {{"model_name": ...}}'
        )
    values: dict[str, str] = {}
    for field in LOAD_FIELDS:
        value = document.get(field)
        if value is None:
            raise BadRequest(f"the body of POST /models lacks {field}{did_you_mean(field, document)}")
        if not isinstance(value, str) or not value.strip():
            raise BadRequest(f"{field} in the body of POST /models must be a non-empty string, got {value!r}")
        values[field] = value
    return LoadRequest(**values)


def model_description(record: ModelRecord) -> dict[str, Any]:
    """GET /models/NAME's body."""
    return {"modelName": record.name, "modelUrl": record.url}


def loaded_status(name: str) -> dict[str, str]:
    return {"status": f"Model {name} loaded"}


def unloaded_status(name: str) -> dict[str, str]:
    return {"status": f'Model "{name}" unregistered'}
