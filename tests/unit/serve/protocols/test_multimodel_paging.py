"""GET /models paging: a pure function of the listed models and the query."""

from __future__ import annotations

import pytest

from smtoolkit.errors import BadRequest
from smtoolkit.serve.protocols.multimodel.paging import DEFAULT_PAGE_SIZE, models_page

MODELS = [(f"model-{i:03d}", f"/opt/ml/models/{i}/model") for i in range(250)]


def walk(models: list[tuple[str, str]], limit: str, token_parameter: str) -> list[str]:
    names: list[str] = []
    query = {"limit": limit}
    while True:
        body = models_page(models, query)
        names += [m["modelName"] for m in body["models"]]
        if "nextPageToken" not in body:
            return names
        query = {"limit": limit, token_parameter: body["nextPageToken"]}


@pytest.mark.parametrize("token_parameter", ["next_page_token", "nextPageToken"])
def test_pages_cover_every_model_once_in_name_order(token_parameter: str) -> None:
    assert walk(MODELS, "7", token_parameter) == [name for name, _ in MODELS]


def test_the_body_names_each_model_and_its_url() -> None:
    body = models_page([("b", "/m/b"), ("a", "/m/a")], {})
    assert body == {"models": [{"modelName": "a", "modelUrl": "/m/a"}, {"modelName": "b", "modelUrl": "/m/b"}]}


def test_the_default_page_size_and_the_last_page_without_a_token() -> None:
    first = models_page(MODELS, {})
    assert len(first["models"]) == DEFAULT_PAGE_SIZE and "nextPageToken" in first
    assert "nextPageToken" not in models_page(MODELS[:DEFAULT_PAGE_SIZE], {})


def test_a_model_unloaded_between_pages_skips_nothing_that_stayed() -> None:
    first = models_page(MODELS, {"limit": "10"})
    remaining = [m for m in MODELS if m[0] != "model-003" and m[0] != "model-010"]
    second = models_page(remaining, {"limit": "10", "next_page_token": first["nextPageToken"]})
    assert second["models"][0]["modelName"] == "model-011"


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"limit": "0"}, "limit='0': expected a whole number from 1 to 1000"),
        ({"limit": "ten"}, "limit='ten'"),
        ({"next_page_token": "%%%"}, "next_page_token='%%%' is not a token returned by GET /models"),
    ],
)
def test_bad_query_parameters_are_400_naming_them(query: dict[str, str], message: str) -> None:
    with pytest.raises(BadRequest, match=message):
        models_page(MODELS, query)
