"""POST /models bodies: a request that isn't JSON or lacks a field is a 400 naming it."""

from __future__ import annotations

import pytest

from smtoolkit.errors import BadRequest
from smtoolkit.serve.protocols.multimodel.bodies import LoadRequest, model_description, parse_load_request
from smtoolkit.serve.protocols.multimodel.store import ModelRecord


def test_the_platforms_load_request() -> None:
    body = b'{"model_name": "abc123", "url": "/opt/ml/models/abc123/model"}'
    assert parse_load_request(body) == LoadRequest("abc123", "/opt/ml/models/abc123/model")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{not json", "the body of POST /models is not valid JSON"),
        (b"\xff", "the body of POST /models is not valid JSON"),
        (b"[1]", "the body of POST /models must be a JSON object (its fields: model_name, url), got a list"),
        (b'{"url": "/m"}', "lacks model_name"),
        (b'{"modelName": "m", "url": "/m"}', "lacks model_name (did you mean modelName?)"),
        (b'{"model_name": "m"}', "lacks url"),
        (b'{"model_name": "", "url": "/m"}', "model_name in the body of POST /models must be the model's name"),
        (b'{"model_name": " ", "url": "/m"}', 'must be the model\'s name, a non-empty string, got " "'),
        (b'{"model_name": "m", "url": 3}', "url in the body of POST /models must be the model folder's path"),
        (b'{"model_name": "m", "url": 3}', "must be the model folder's path, a non-empty string, got 3"),
        (b'{"model_name": null, "url": "/m"}', "must be the model's name, a non-empty string, got null"),
    ],
)
def test_bad_bodies_are_400_naming_the_field(body: bytes, message: str) -> None:
    with pytest.raises(BadRequest) as raised:
        parse_load_request(body)
    assert message in str(raised.value)


def test_a_description_names_the_model_and_its_url() -> None:
    record = ModelRecord("m", "/opt/ml/models/m/model", "ready", 1, "id")
    assert model_description(record) == {"modelName": "m", "modelUrl": "/opt/ml/models/m/model"}
