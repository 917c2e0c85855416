"""The /invocations fast path answers exactly as the Flask route behind it would, and lets the rest through."""

from __future__ import annotations

import io
from typing import Any

import pytest
from flask.testing import FlaskClient

from smtoolkit.config.serving import ServingSettings
from smtoolkit.errors import ServeError
from smtoolkit.serve.app import create_app
from smtoolkit.serve.context import CUSTOM_ATTRIBUTES
from smtoolkit.serve.fastpath import InvocationsFastPath, status_line
from tests.unit.serve.test_app import make_handler


def predict_fn(data: Any, model: Any, context: Any) -> Any:
    if isinstance(data, dict) and "status" in data:
        raise ServeError("user says no", status=data["status"])
    if isinstance(data, dict) and "crash" in data:
        raise RuntimeError("secret")
    if context.custom_attributes:
        context.set_custom_attributes("seen")
    return data


def _clients() -> tuple[FlaskClient, FlaskClient]:
    settings = ServingSettings(model_server_workers=1, max_payload_in_mb=1)
    fast = create_app(make_handler(predict_fn=predict_fn), settings)
    assert isinstance(fast.wsgi_app, InvocationsFastPath)
    flask_only = create_app(make_handler(predict_fn=predict_fn), settings)
    flask_only.wsgi_app = flask_only.wsgi_app.app  # type: ignore[attr-defined,method-assign]
    return fast.test_client(), flask_only.test_client()


REQUESTS: list[tuple[bytes, dict[str, str]]] = [
    (b"1,2\n3,4\n", {"Content-Type": "text/csv", "Accept": "text/csv"}),
    (b"[1, 2]", {"Content-Type": "application/json; charset=utf-8"}),
    (b"1", {"Content-Type": "text/csv", CUSTOM_ATTRIBUTES: "a=1"}),
    (b"1,2\n3\n", {"Content-Type": "text/csv"}),
    (b"x", {"Content-Type": "application/x-unknown"}),
    (b"x", {}),
    (b"1", {"Content-Type": "text/csv", "Accept": "image/png"}),
    (b'{"status": 422}', {"Content-Type": "application/json"}),
    (b'{"crash": 1}', {"Content-Type": "application/json"}),
    (b"1" * (1024 * 1024 + 1), {"Content-Type": "text/csv"}),
    (b"", {"Content-Type": "text/csv"}),
]


@pytest.mark.parametrize(("body", "headers"), REQUESTS)
def test_same_answer_as_the_flask_route(body: bytes, headers: dict[str, str]):
    fast, flask_only = _clients()
    answers = [client.post("/invocations", data=body, headers=headers) for client in (fast, flask_only)]
    first, second = ((a.status_code, a.content_type, a.data) for a in answers)
    assert first == second
    extra = [{k: v for k, v in a.headers.items() if k.lower().startswith("x-")} for a in answers]
    assert extra[0] == extra[1]
    assert answers[0].headers["Content-Length"] == str(len(answers[0].data))


def test_chunked_bodies_and_other_routes_pass_through():
    fast, _ = _clients()
    response = fast.post(
        "/invocations",
        input_stream=io.BytesIO(b"1,2\n"),
        headers={"Content-Type": "text/csv", "Transfer-Encoding": "chunked", "Accept": "text/csv"},
        environ_overrides={"wsgi.input_terminated": True},  # what gunicorn sets for a chunked body
    )
    assert (response.status_code, response.data) == (200, b"1.0,2.0\n")
    assert fast.get("/ping").status_code == 200
    assert fast.get("/invocations").status_code == 405
    assert fast.post("/nowhere").status_code == 404


def test_status_line():
    assert (status_line(200), status_line(413), status_line(299)) == (
        "200 OK",
        "413 Request Entity Too Large",
        "299 Unknown",
    )
