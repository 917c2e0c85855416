"""The one check of a JSON object body: each mistake is a 400 naming the body, the field and what it must be."""

from __future__ import annotations

import pytest

from smtoolkit.errors import BadRequest
from smtoolkit.serve.protocols.jsonbody import JsonField, json_object

WHERE = "the body of POST /things"
FIELDS = (
    JsonField("name", (str,), "a non-empty string", required=True, non_empty=True),
    JsonField("count", (int,), "a whole number"),
    JsonField("extra", (), "any JSON value"),
)


def test_a_good_body_is_its_object() -> None:
    assert json_object(b'{"name": "a", "count": 2, "extra": null}', WHERE, FIELDS) == {
        "name": "a",
        "count": 2,
        "extra": None,
    }
    assert json_object(b" ", WHERE, (), empty_is_object=True) == {}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{nope", "the body of POST /things is not valid JSON: Expecting property name"),
        (b"\xff", "the body of POST /things is not valid JSON"),
        (b"", "the body of POST /things is not valid JSON"),
        (b"[1]", "the body of POST /things must be a JSON object (its fields: name, count, extra), got a list"),
        (b'"a"', 'the body of POST /things must be a JSON object (its fields: name, count, extra), got "a"'),
        (b'{"count": 1}', "the body of POST /things lacks name: a non-empty string"),
        (b'{"Name": "a"}', "has an unknown field 'Name' (did you mean name?); its fields: name, count, extra"),
        (b'{"name": " "}', 'name in the body of POST /things must be a non-empty string, got " "'),
        (b'{"name": ["a"]}', "name in the body of POST /things must be a non-empty string, got a list"),
        (b'{"name": "a", "count": true}', "count in the body of POST /things must be a whole number, got true"),
        (b'{"name": "a", "count": 1.5}', "count in the body of POST /things must be a whole number, got 1.5"),
        (b'{"name": null}', "name in the body of POST /things must be a non-empty string, got null"),
    ],
)
def test_each_mistake_is_a_400_naming_the_field(body: bytes, message: str) -> None:
    with pytest.raises(BadRequest) as raised:
        json_object(body, WHERE, FIELDS)
    assert message in str(raised.value)


def test_an_open_object_takes_other_fields_and_names_the_close_one_it_lacks() -> None:
    assert json_object(b'{"name": "a", "more": 1}', WHERE, FIELDS, closed=False)["more"] == 1
    with pytest.raises(BadRequest, match=r"lacks name \(did you mean nam\?\)"):
        json_object(b'{"nam": "a"}', WHERE, FIELDS, closed=False)


def test_a_long_value_is_cut_in_the_message() -> None:
    with pytest.raises(BadRequest) as raised:
        json_object(b'{"name": "a", "count": "' + b"x" * 1000 + b'"}', WHERE, FIELDS)
    assert len(str(raised.value)) < 200 and str(raised.value).endswith("xxx...")
