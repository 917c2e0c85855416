"""Content-Type parsing and Accept negotiation (q-values, parameters, wildcards, the default)."""

from __future__ import annotations

import pytest

from smtoolkit.errors import NotAcceptable
from smtoolkit.serve.codecs.registry import MediaType, default_codecs

CODECS = default_codecs()
JSON = "application/json"


def test_media_type_is_lower_case_with_parameters():
    parsed = MediaType.parse("Text/CSV ; Charset=UTF-8")
    assert parsed is not None
    assert (parsed.name, dict(parsed.params)) == ("text/csv", {"charset": "UTF-8"})
    assert MediaType.parse(None) is None and MediaType.parse("  ") is None


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (None, JSON),
        ("", JSON),
        ("*/*", JSON),
        ("text/csv", "text/csv"),
        ("Text/CSV; charset=utf-8", "text/csv"),
        ("application/json;q=0.5, text/csv", "text/csv"),
        ("text/csv;q=0.2, application/x-npy;q=0.9, */*;q=0.1", "application/x-npy"),
        ("image/png, */*;q=0.1", JSON),
        ("text/*", "text/csv"),
        ("application/json, text/csv", JSON),
    ],
)
def test_negotiate(accept, expected):
    assert CODECS.negotiate(accept, JSON) == expected


def test_negotiate_uses_the_default_setting_for_wildcards():
    assert CODECS.negotiate("*/*", "text/csv") == "text/csv"
    assert CODECS.negotiate(None, "application/jsonlines") == "application/jsonlines"


@pytest.mark.parametrize("accept", ["image/png", "application/json;q=0", "garbage"])
def test_nothing_acceptable_is_406(accept):
    with pytest.raises(NotAcceptable, match="cannot produce any of Accept"):
        CODECS.negotiate(accept, JSON)


@pytest.mark.parametrize(
    ("accept", "closest"),
    [
        ("application/jsno", JSON),
        ("image/png, text/cvs;q=0.5", "text/csv"),
        ("Application/X-NPZZ", "application/x-npz"),
    ],
)
def test_a_misspelt_accept_is_a_406_naming_the_closest_type(accept, closest):
    with pytest.raises(NotAcceptable, match=rf"\(did you mean {closest}\?\); available: "):
        CODECS.negotiate(accept, JSON)


@pytest.mark.parametrize("accept", ["image/png", "application/json;q=0", "application/xml", "text/html"])
def test_a_406_suggests_nothing_for_a_type_that_is_no_typo_or_was_refused(accept):
    with pytest.raises(NotAcceptable) as raised:
        CODECS.negotiate(accept, JSON)
    assert "did you mean" not in str(raised.value)


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        ("image/png", "image/png"),
        ("image/png;q=0.5, application/x-thing", "application/x-thing"),
        ("text/csv, image/png", "text/csv"),
        ("*/*", JSON),
        (None, JSON),
        ("text/*", "text/csv"),
    ],
)
def test_preferred_for_a_user_output_fn_takes_any_concrete_type(accept, expected):
    assert CODECS.preferred(accept, JSON) == expected
