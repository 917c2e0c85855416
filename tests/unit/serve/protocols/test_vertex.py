"""Vertex AI's contract: AIP_* variables as Vertex sets them, request and response bodies as its docs give them."""

from __future__ import annotations

import json

import pytest

from smtoolkit.errors import BadRequest, ConfigError, PayloadTooLarge, ServeError
from smtoolkit.serve.protocols.vertex import (
    PUBLIC_ENDPOINT_MAX_BYTES,
    error_body,
    load_vertex_settings,
    parse_predict_request,
    predict_or_raw,
    predictions_body,
)

# The variables Vertex AI sets in a deployed custom container (custom-container-requirements, "AIP variables").
DEPLOYED = {
    "AIP_MODE": "PREDICTION",
    "AIP_MODE_VERSION": "1.0.0",
    "AIP_HTTP_PORT": "7080",
    "AIP_HEALTH_ROUTE": "/v1/endpoints/123/deployedModels/456",
    "AIP_PREDICT_ROUTE": "/v1/endpoints/123/deployedModels/456:predict",
    "AIP_STORAGE_URI": "gs://caip-tenant-bucket/models/456",
    "AIP_ENDPOINT_ID": "123",
    "AIP_DEPLOYED_MODEL_ID": "456",
    "AIP_MACHINE_TYPE": "n1-standard-4",
    "AIP_PROJECT_NUMBER": "987654321",
}


def test_reads_the_variables_vertex_sets(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in DEPLOYED.items():
        monkeypatch.setenv(name, value)
    settings = load_vertex_settings()
    assert settings.active and settings.http_port == 7080
    assert settings.predict_path == "/v1/endpoints/123/deployedModels/456:predict"
    assert settings.health_path == "/v1/endpoints/123/deployedModels/456"
    assert settings.storage_uri == "gs://caip-tenant-bucket/models/456"


def test_defaults_outside_vertex() -> None:
    settings = load_vertex_settings()
    assert not settings.active and settings.http_port == 8080 and settings.storage_uri is None


def test_routes_default_to_the_documented_predict_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIP_ENDPOINT_ID", "e1")
    monkeypatch.setenv("AIP_DEPLOYED_MODEL_ID", "m2")
    monkeypatch.setenv("AIP_HEALTH_ROUTE", " ")
    settings = load_vertex_settings()
    assert settings.predict_path == "/v1/endpoints/e1/deployedModels/m2:predict"
    assert settings.health_path == settings.predict_path  # the API's documented healthRoute default


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("AIP_HTTP_PORT", "80a", "AIP_HTTP_PORT: got '80a'"),
        ("AIP_HTTP_PORT", "70000", "less than or equal to 65535"),
        ("AIP_PREDICT_ROUTE", "predict", "AIP_PREDICT_ROUTE: got 'predict': expected an HTTP path starting with /"),
    ],
)
def test_bad_variables_are_named(monkeypatch: pytest.MonkeyPatch, variable: str, value: str, expected: str) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as caught:
        load_vertex_settings()
    assert expected in str(caught.value)


def test_parses_a_documented_request() -> None:
    body = {"instances": [[1.0, 2.0], {"text": "hi"}], "parameters": {"temperature": 0.2}}
    request = parse_predict_request(json.dumps(body).encode())
    assert request.instances == [[1.0, 2.0], {"text": "hi"}]
    assert request.parameters == {"temperature": 0.2}
    assert json.loads(request.instances_body()) == body["instances"]
    assert parse_predict_request(b'{"instances": []}').parameters is None


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"{oops", "the body is not valid JSON"),
        (b"[1, 2]", "the body must be a JSON object (its fields: instances, parameters), got a list"),
        (b"{}", "the body lacks instances: a list with one item per instance"),
        (b'{"instances": {"a": 1}}', "instances in the body must be a list with one item per instance, got an object"),
        (b'{"instances": null}', "instances in the body must be a list with one item per instance, got null"),
        (b'{"instance": [1]}', "unknown field 'instance' (did you mean instances?); its fields: instances, parameters"),
        (b'{"instances": [1], "params": {}}', "unknown field 'params' (did you mean parameters?)"),
        (b"\xff\xfe", "the body is not valid JSON"),
    ],
)
def test_bad_requests_say_what_is_wrong(body: bytes, expected: str) -> None:
    with pytest.raises(BadRequest) as caught:
        parse_predict_request(body)
    assert expected in str(caught.value)


def test_body_over_the_limit_is_a_413() -> None:
    instance = "x" * 1000
    body = json.dumps({"instances": [instance] * (PUBLIC_ENDPOINT_MAX_BYTES // 1000)}).encode()
    with pytest.raises(PayloadTooLarge) as caught:
        parse_predict_request(body)
    assert caught.value.status == 413 and f"at most {PUBLIC_ENDPOINT_MAX_BYTES}" in str(caught.value)
    assert parse_predict_request(body, limit=None).instances[0] == instance


def test_predictions_from_output_fn() -> None:
    assert json.loads(predictions_body(b"[1, 2]", "application/json")) == {"predictions": [1, 2]}
    assert json.loads(predictions_body(b"[0.5]", "application/json; charset=utf-8")) == {"predictions": [0.5]}
    already = b'{"predictions": [3], "deployedModelId": "456"}'
    assert predictions_body(already, "application/json") == already


@pytest.mark.parametrize(
    ("output", "content_type", "expected"),
    [
        (b"1,2\n", "text/csv", "output_fn must return application/json; it returned text/csv"),
        (b"not json", "application/json", "output_fn must return JSON"),
        (b'{"a": 1}', "application/json", "the predictions must be a JSON list (one per instance), got dict"),
    ],
)
def test_outputs_vertex_cannot_read_are_a_500(output: bytes, content_type: str, expected: str) -> None:
    with pytest.raises(ServeError) as caught:
        predictions_body(output, content_type)
    assert caught.value.status == 500 and expected in str(caught.value)


def test_error_body() -> None:
    assert json.loads(error_body('no "instances"')) == {"error": 'no "instances"'}


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"\x89PNG...", "image/png"),  # not JSON: an image, CSV...
        (b"1,2\n3,4\n", "text/csv"),
        (b"[[1, 2]]", "application/json"),  # JSON, but not an object
        (b'{"inputs": [1], "instance_id": 7}', "application/json"),  # an object of other fields
    ],
)
def test_a_raw_predict_body_is_told_apart_from_a_prediction_request(body: bytes, content_type: str) -> None:
    assert predict_or_raw(body, content_type) is None


def test_a_prediction_request_and_its_misspellings_are_read_as_one() -> None:
    wanted = predict_or_raw(b'{"instances": [1], "parameters": {"k": 1}}', "application/json; charset=utf-8")
    assert wanted is not None and (wanted.instances, wanted.parameters) == ([1], {"k": 1})
    assert predict_or_raw(b'{"instances": []}', None) is not None  # no Content-Type: Vertex's predict sends JSON
    with pytest.raises(BadRequest, match="did you mean instances"):
        predict_or_raw(b'{"instance": [1], "parameters": {}}', "application/json")
    with pytest.raises(BadRequest, match="not valid JSON"):
        predict_or_raw(b"{nope", "application/json")
    with pytest.raises(PayloadTooLarge):
        predict_or_raw(b"x" * 20, "text/plain", limit=10)
