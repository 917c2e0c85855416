"""The JSON bodies of the multi-model routes: the POST /models request in, model descriptions and statuses out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from smtoolkit.serve.protocols.jsonbody import JsonField, json_object
from smtoolkit.serve.protocols.multimodel.store import ModelRecord

LOAD_FIELDS = (
    JsonField("model_name", (str,), "the model's name, a non-empty string", required=True, non_empty=True),
    JsonField("url", (str,), "the model folder's path, a non-empty string", required=True, non_empty=True),
)


@dataclass(frozen=True)
class LoadRequest:
    model_name: str
    url: str


def parse_load_request(body: bytes) -> LoadRequest:
    """POST /models's `{"model_name": NAME, "url": PATH}`; BadRequest (400) naming what is wrong. Other fields
    are not refused: the platform writes this body, and a field it may add one day must not fail every load."""
    document = json_object(body, "the body of POST /models", LOAD_FIELDS, closed=False)
    return LoadRequest(document["model_name"], document["url"])


def model_description(record: ModelRecord) -> dict[str, Any]:
    """GET /models/NAME's body."""
    return {"modelName": record.name, "modelUrl": record.url}


def loaded_status(name: str) -> dict[str, str]:
    return {"status": f"Model {name} loaded"}


def unloaded_status(name: str) -> dict[str, str]:
    return {"status": f'Model "{name}" unregistered'}
