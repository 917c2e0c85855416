"""The app on its WSGI adapter (werkzeug test client): routes, the pipeline, statuses and JSON error bodies."""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from werkzeug.test import Client

from smtoolkit.config.serving import ServingSettings
from smtoolkit.errors import BadRequest, EntryPointError, ServeError, UserScriptError
from smtoolkit.serve.adapters.wsgi import wsgi_app
from smtoolkit.serve.app import create_app
from smtoolkit.serve.codecs.registry import default_codecs
from smtoolkit.serve.context import CUSTOM_ATTRIBUTES
from smtoolkit.serve.handlers import handlers_from
from smtoolkit.serve.pipeline import InferenceHandler

MODEL_DIR = Path("/opt/ml/model")


class Doubler:
    def predict(self, data: Any) -> Any:
        return data * 2


def make_handler(load: bool = True, default_accept: str = "application/json", **functions: Any) -> InferenceHandler:
    functions.setdefault("model_fn", lambda model_dir: Doubler())
    handler = InferenceHandler(
        handlers_from(SimpleNamespace(**functions), "inference.py"), MODEL_DIR, default_codecs(), default_accept
    )
    if load:
        handler.load_model()
    return handler


def client(handler: InferenceHandler | None = None, **settings: Any) -> Client:
    settings.setdefault("model_server_workers", 2)
    return Client(wsgi_app(create_app(handler or make_handler(), ServingSettings(**settings))))


def invoke(test_client: Client, body: bytes = b"1,2\n", content_type: str | None = "text/csv", **headers: str):
    if content_type is not None:
        headers["Content-Type"] = content_type
    return test_client.post("/invocations", data=body, headers=headers)


def assert_error(response, status: int, kind: str, message: str = "") -> None:
    assert response.status_code == status
    assert response.content_type == "application/json"
    body = response.get_json()
    assert (body["code"], body["type"]) == (status, kind)
    assert message in body["message"]
    assert "Traceback" not in response.get_data(as_text=True)


def test_ping_is_503_until_the_model_is_loaded_then_200_empty():
    handler = make_handler(load=False)
    test_client = client(handler)
    assert_error(test_client.get("/ping"), 503, "ModelNotReady")
    assert_error(invoke(test_client), 503, "ModelNotReady")
    handler.load_model()
    response = test_client.get("/ping")
    assert (response.status_code, response.data, response.content_type) == (200, b"", "text/plain; charset=utf-8")


def test_default_pipeline_decodes_predicts_and_encodes():
    test_client = client()
    response = invoke(test_client, b"1,2\n3,4\n")
    assert response.status_code == 200 and response.content_type == "application/json"
    assert response.get_json() == [[2.0, 4.0], [6.0, 8.0]]
    response = invoke(test_client, b"[1, 2]", "application/json; charset=utf-8", Accept="text/csv")
    assert (response.content_type, response.data) == ("text/csv", b"2\n4\n")
    npy = io.BytesIO()
    np.save(npy, np.array([1.5]))
    response = invoke(test_client, npy.getvalue(), "application/x-npy", Accept="application/x-npy")
    assert np.load(io.BytesIO(response.data)).tolist() == [3.0]


def test_a_callable_model_is_the_default_predictor():
    test_client = client(make_handler(model_fn=lambda model_dir: lambda data: data + 1))
    assert invoke(test_client, b"1").get_json() == [[2.0]]


def test_a_model_without_predict_needs_a_predict_fn():
    with pytest.raises(EntryPointError, match="no predict_fn and model_fn returned a int"):
        make_handler(model_fn=lambda model_dir: 3)


def test_model_fn_failure_is_a_user_script_error():
    def model_fn(model_dir):
        raise OSError("no weights")

    with pytest.raises(UserScriptError, match="model_fn failed: OSError: no weights"):
        make_handler(model_fn=model_fn)


def test_load_hooks_run_in_order_with_the_model_dir():
    calls = []

    def model_fn(model_dir):
        calls.append(("model", model_dir))
        return Doubler()

    make_handler(
        pre_model_fn=lambda model_dir, context: calls.append(("pre", context.system_properties["model_dir"])),
        model_fn=model_fn,
        model_warmup_fn=lambda model_dir, model: calls.append(("warmup", type(model).__name__)),
    )
    assert calls == [("pre", str(MODEL_DIR)), ("model", str(MODEL_DIR)), ("warmup", "Doubler")]


def test_input_fn_gets_text_for_json_and_csv_and_bytes_otherwise():
    seen = []

    def input_fn(body, content_type):
        seen.append((body, content_type))
        return [1]

    test_client = client(make_handler(input_fn=input_fn, predict_fn=lambda data, model: data))
    invoke(test_client, "é".encode("latin-1"), "text/csv; charset=latin-1")
    invoke(test_client, b"\x00\x01", "application/octet-stream")
    invoke(test_client, b"x", None)
    assert seen == [("é", "text/csv"), (b"\x00\x01", "application/octet-stream"), (b"x", None)]


def test_output_fn_results_and_content_types():
    results: list[Any] = [(b"<p/>", "text/html"), "plain", [1, 2], object()]
    test_client = client(make_handler(output_fn=lambda prediction, accept: results.pop(0)))
    response = invoke(test_client, Accept="image/png")
    assert (response.content_type, response.data) == ("text/html", b"<p/>")
    response = invoke(test_client, Accept="text/plain;q=0.9, text/x-custom")
    assert (response.content_type, response.data) == ("text/x-custom", b"plain")
    response = invoke(test_client, Accept="text/csv")
    assert (response.content_type, response.data) == ("text/csv", b"1\n2\n")
    assert_error(invoke(test_client, Accept="image/png"), 500, "ServeError", "returned a object")


def test_transform_fn_with_context_round_trips_custom_attributes():
    def transform_fn(model, body, content_type, accept, context):
        attributes = context.get_request_header(0, CUSTOM_ATTRIBUTES)
        context.set_response_header(0, CUSTOM_ATTRIBUTES, f"seen={attributes}")
        context.set_response_content_type(0, "application/x-echo")
        return f"{body}|{content_type}|{accept}|{context.header('x-amzn-sagemaker-inference-id')}"

    response = invoke(
        client(make_handler(transform_fn=transform_fn)),
        b"1,2",
        "text/csv",
        Accept="*/*",
        **{CUSTOM_ATTRIBUTES: "a=1", "X-Amzn-SageMaker-Inference-Id": "id-7"},
    )
    assert response.status_code == 200
    assert response.headers[CUSTOM_ATTRIBUTES] == "seen=a=1"
    assert response.content_type == "application/x-echo"
    assert response.data == b"1,2|text/csv|application/json|id-7"


def test_predict_fn_context_can_set_custom_attributes():
    def predict_fn(data, model, context):
        context.set_custom_attributes(context.custom_attributes.upper())
        return data

    test_client = client(make_handler(predict_fn=predict_fn))
    response = invoke(test_client, b"1", "text/csv", **{CUSTOM_ATTRIBUTES: "trace=abc"})
    assert response.headers[CUSTOM_ATTRIBUTES] == "TRACE=ABC"


def test_serve_errors_from_user_code_keep_their_status():
    def input_fn(body, content_type):
        if body == "teapot":
            raise ServeError("short and stout", status=418)
        raise BadRequest("feature 3 is missing")

    test_client = client(make_handler(input_fn=input_fn))
    assert_error(invoke(test_client, b"x"), 400, "BadRequest", "feature 3 is missing")
    assert_error(invoke(test_client, b"teapot"), 418, "ServeError", "short and stout")


def test_other_exceptions_are_500_without_details_and_logged(caplog: pytest.LogCaptureFixture):
    def predict_fn(data, model):
        raise RuntimeError("secret connection string")

    with caplog.at_level(logging.ERROR, logger="smtoolkit.serve.core.errors"):
        response = invoke(client(make_handler(predict_fn=predict_fn)))
    assert_error(response, 500, "ServeError", "predict_fn failed with RuntimeError")
    assert b"secret" not in response.data
    assert "secret connection string" in caplog.text and "Traceback" in caplog.text


def test_a_bad_response_header_from_user_code_is_a_500():
    def predict_fn(data, model, context):
        context.set_custom_attributes("line\nbreak")

    assert_error(invoke(client(make_handler(predict_fn=predict_fn))), 500, "ServeError", "predict_fn failed")


def test_codec_statuses_are_json():
    test_client = client()
    assert_error(invoke(test_client, b"x", "image/png"), 415, "UnsupportedMediaType", "'image/png'")
    assert_error(invoke(test_client, b"x", None), 415, "UnsupportedMediaType", "missing Content-Type")
    assert_error(invoke(test_client, Accept="image/png"), 406, "NotAcceptable", "image/png")
    assert_error(invoke(test_client, b"1,a"), 400, "BadRequest", "line 1, column 2: 'a' is not a number")


def test_payload_limit_from_content_length_and_from_a_chunked_body():
    test_client = client(max_payload_in_mb=1)
    limit = 1024 * 1024
    assert invoke(test_client, b"1," * (limit // 2 - 1) + b"1").status_code == 200
    assert_error(invoke(test_client, b"1" * (limit + 1)), 413, "PayloadTooLarge", "limit is 1048576")
    response = test_client.post(
        "/invocations",
        input_stream=io.BytesIO(b"1" * (limit + 10)),
        headers={"Content-Type": "text/csv", "Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},
    )
    assert_error(response, 413, "PayloadTooLarge", "over the limit")


def test_chunked_body_under_the_limit_is_read_whole():
    response = client().post(
        "/invocations",
        input_stream=io.BytesIO(b"1,2\n" * 50_000),
        headers={"Content-Type": "text/csv", "Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},
    )
    assert response.status_code == 200 and len(response.get_json()) == 50_000


def test_execution_parameters_from_settings_and_execution_parameters_fn():
    response = client(max_payload_in_mb=30, batch_strategy="SingleRecord").get("/execution-parameters")
    assert response.content_type == "application/json"
    assert response.get_json() == {"MaxConcurrentTransforms": 2, "BatchStrategy": "SINGLE_RECORD", "MaxPayloadInMB": 30}
    custom = client(make_handler(execution_parameters_fn=lambda: {"BatchStrategy": "MultiRecord", "MaxPayloadInMB": 1}))
    assert custom.get("/execution-parameters").get_json() == {
        "MaxConcurrentTransforms": 2,
        "BatchStrategy": "MULTI_RECORD",
        "MaxPayloadInMB": 1,
    }


@pytest.mark.parametrize(
    ("returned", "message"),
    [
        ({"MaxConcurrentTransforms": 50, "MaxPayloadInMB": 6}, "must be <= 100"),
        ({"MaxConcurrentTransforms": 0}, "MaxConcurrentTransforms must be an integer >= 1"),
        ({"BatchStrategy": "ALL"}, "BatchStrategy must be MULTI_RECORD or SINGLE_RECORD"),
        ({"Extra": 1}, "unknown key Extra"),
        ('{"MaxPayloadInMB": 1}', "returned a str, not a mapping"),
    ],
)
def test_invalid_execution_parameters_are_a_500(returned, message):
    test_client = client(make_handler(execution_parameters_fn=lambda: returned))
    assert_error(test_client.get("/execution-parameters"), 500, "ServeError", message)


def test_unknown_routes_and_methods_are_json():
    test_client = client()
    assert_error(test_client.get("/nope"), 404, "NotFound")
    assert_error(test_client.get("/invocations"), 405, "MethodNotAllowed")


def test_an_unexpected_error_is_a_generic_500(monkeypatch: pytest.MonkeyPatch):
    handler = make_handler()

    def broken(invocation):
        raise KeyError("missing")

    monkeypatch.setattr(handler, "start_invoke", broken)
    assert_error(invoke(client(handler)), 500, "InternalServerError", "internal server error")


def test_default_accept_must_have_an_encoder_unless_output_fn_is_given():
    with pytest.raises(EntryPointError, match="DEFAULT_INVOCATIONS_ACCEPT=image/png has no encoder"):
        make_handler(default_accept="image/png")
    handler = make_handler(default_accept="image/png", output_fn=lambda prediction, accept: json.dumps(accept))
    assert invoke(client(handler)).data == b'"image/png"'


def test_importing_the_app_does_not_import_numpy():
    code = "import sys, smtoolkit.serve.app, smtoolkit.serve.hosting.server; sys.exit('numpy' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
