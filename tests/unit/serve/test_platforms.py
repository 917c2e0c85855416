"""Choosing the protocols (SMTOOLKIT_SERVE_PROTOCOLS, AIP_MODE), their routes on one router, route collisions,
the handler's inputs on each route, and compressed OIP bodies; transport-free (Router.handle)."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
import tarfile
import zlib
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from smtoolkit.config.launcher import check_names
from smtoolkit.config.serving import ServingSettings
from smtoolkit.errors import BadRequest, ConfigError, EntryPointError, PayloadTooLarge, UnsupportedMediaType
from smtoolkit.serve.app import Protocols, choose_protocols, create_app
from smtoolkit.serve.codecs.registry import default_codecs
from smtoolkit.serve.core.messages import Headers, Request
from smtoolkit.serve.core.router import Router
from smtoolkit.serve.handlers import handlers_from
from smtoolkit.serve.pipeline import InferenceHandler
from smtoolkit.serve.platforms import model_source, plan_protocols, warn_unused
from smtoolkit.serve.protocols.oip.encoding import decoded_body
from smtoolkit.serve.protocols.vertex.settings import VertexSettings

INFER = "/v2/models/model/infer"


def settings(**environ: str) -> ServingSettings:
    return ServingSettings.from_environ(environ)


@pytest.mark.parametrize(
    ("value", "mode", "names"),
    [
        ("", None, ["sagemaker"]),
        ("", "PREDICTION", ["sagemaker", "vertex"]),
        ("oip", None, ["sagemaker", "oip"]),
        ("OIP, vertex", None, ["sagemaker", "vertex", "oip"]),
        ("all", None, ["sagemaker", "vertex", "oip"]),
        ("sagemaker", "prediction", ["sagemaker", "vertex"]),
    ],
)
def test_sagemaker_always_vertex_by_aip_mode_or_asked_oip_when_asked(
    value: str, mode: str | None, names: list[str]
) -> None:
    vertex = VertexSettings.from_environ({"AIP_MODE": mode} if mode else {})
    assert choose_protocols(settings(SMTOOLKIT_SERVE_PROTOCOLS=value), vertex).names == names


def test_a_misspelt_protocol_names_the_closest() -> None:
    with pytest.raises(
        ConfigError,
        match=r"SMTOOLKIT_SERVE_PROTOCOLS: got 'oip,vertx': unknown protocol 'vertx' \(did you mean vertex\?\)",
    ):
        settings(SMTOOLKIT_SERVE_PROTOCOLS="oip,vertx")


def test_protocol_variables_are_known_smtoolkit_settings() -> None:
    known = {"SMTOOLKIT_SERVE_PROTOCOLS": "oip", "SMTOOLKIT_OIP_MODEL_NAME": "m", "SMTOOLKIT_OIP_MODEL_VERSION": "1"}
    assert check_names({**known, "SMTOOLKIT_VERTEX_MAX_REQUEST_MB": "10", "SMTOOLKIT_KSERVE_MODEL_DIR": "/m"}) == []
    assert check_names({"SMTOOLKIT_SERVE_PROTOCOL": "oip"}) == ["SMTOOLKIT_SERVE_PROTOCOL"]


class Seen:
    """A model recording what predict_fn was handed."""

    oip_outputs = [{"name": "doubled", "datatype": "FP64", "shape": [-1]}]


def handler(**functions: Any) -> InferenceHandler:
    functions.setdefault("model_fn", lambda model_dir: Seen())
    loaded = InferenceHandler(
        handlers_from(SimpleNamespace(**functions), "inference.py"),
        Path("/opt/ml/model"),
        default_codecs(),
        "application/json",
    )
    loaded.load_model()
    return loaded


def app(loaded: InferenceHandler, **environ: str) -> Router:
    vertex = VertexSettings.from_environ({"AIP_MODE": "PREDICTION", **environ})
    chosen = settings(SMTOOLKIT_SERVE_PROTOCOLS="oip")
    return create_app(loaded, chosen, choose_protocols(chosen, vertex))


def post(router: Router, path: str, body: bytes, **headers: str) -> tuple[int, Any]:
    answer = router.handle(Request("POST", path, headers=Headers(headers.items()), body=body))
    return answer.status, json.loads(answer.body)


def test_each_route_hands_predict_fn_its_protocols_inputs_and_parameters() -> None:
    calls: list[tuple[Any, Any]] = []

    def predict_fn(data: Any, model: Any, context: Any) -> Any:
        calls.append((data, context.parameters))
        return np.asarray(data, dtype=np.float64) * 2

    router = app(handler(predict_fn=predict_fn))
    vertex = json.dumps({"instances": [1, 2], "parameters": {"k": 1}}).encode()
    assert post(router, "/v1/endpoints/ENDPOINT/deployedModels/DEPLOYED_MODEL:predict", vertex) == (
        200,
        {"predictions": [2.0, 4.0]},
    )
    oip = {"inputs": [{"name": "a", "shape": [2], "datatype": "INT32", "data": [1, 2]}], "parameters": {"p": "v"}}
    status, body = post(router, INFER, json.dumps(oip).encode())
    assert status == 200 and body["outputs"] == [
        {"name": "doubled", "datatype": "FP64", "shape": [2], "data": [2.0, 4.0]}
    ]
    assert post(router, "/invocations", b"[1, 2]", **{"Content-Type": "application/json"}) == (200, [2.0, 4.0])
    (vertex_data, vertex_params), (oip_data, oip_params), (sm_data, sm_params) = calls
    assert vertex_params == {"k": 1} and oip_params == {"p": "v"} and sm_params is None
    assert oip_data.dtype == np.int32 and oip_data.tolist() == vertex_data.tolist() == sm_data.tolist() == [1, 2]


def test_several_oip_inputs_reach_predict_fn_as_a_dict() -> None:
    router = app(handler(predict_fn=lambda data, model: {name: value for name, value in data.items()}))
    inputs = [
        {"name": "a", "shape": [1], "datatype": "FP32", "data": [1.5]},
        {"name": "b", "shape": [1], "datatype": "BYTES", "data": ["x"]},
    ]
    status, body = post(router, INFER, json.dumps({"inputs": inputs}).encode())
    assert status == 200 and [(o["name"], o["datatype"], o["data"]) for o in body["outputs"]] == [
        ("a", "FP32", [1.5]),
        ("b", "BYTES", ["x"]),
    ]


def test_errors_before_a_route_runs_are_error_bodies_on_oip_and_vertex_paths() -> None:
    router = app(handler(predict_fn=lambda data, model: data))
    assert router.handle(Request("GET", "/v2/nothing")).body == json.dumps({"error": "no route /v2/nothing"}).encode()
    assert json.loads(router.handle(Request("GET", INFER)).body)["error"].endswith("takes POST, not GET")
    assert "message" in json.loads(router.handle(Request("GET", "/nothing")).body)  # SageMaker's format elsewhere


def test_a_vertex_route_on_another_protocols_path_stops_serve() -> None:
    with pytest.raises(ConfigError, match=r"AIP_PREDICT_ROUTE: POST /invocations is already a route"):
        app(handler(predict_fn=lambda data, model: data), AIP_PREDICT_ROUTE="/invocations")
    with pytest.raises(ConfigError, match=r"AIP_HEALTH_ROUTE: GET /v2/health/ready is already"):
        app(handler(predict_fn=lambda data, model: data), AIP_HEALTH_ROUTE="/v2/health/ready")
    router = app(handler(predict_fn=lambda data, model: data), AIP_HEALTH_ROUTE="/ping")  # /ping means the same
    assert router.handle(Request("GET", "/ping")).status == 200


VERTEX_PREDICT = "/v1/endpoints/ENDPOINT/deployedModels/DEPLOYED_MODEL:predict"


def test_a_dedicated_vertex_endpoint_takes_what_smtoolkit_vertex_max_request_mb_says() -> None:
    five_mb = json.dumps({"instances": ["x" * 5_000_000]}).encode()
    vertex = VertexSettings.from_environ({"AIP_MODE": "PREDICTION"})
    dedicated = settings(SMTOOLKIT_VERTEX_MAX_REQUEST_MB="10")
    router = create_app(handler(predict_fn=lambda data, model: [len(data[0])]), dedicated, Protocols(vertex))
    assert post(router, VERTEX_PREDICT, five_mb) == (200, {"predictions": [5_000_000]})
    shared = create_app(handler(predict_fn=lambda data, model: [0]), settings(), Protocols(vertex))
    status, body = post(shared, VERTEX_PREDICT, five_mb)
    assert status == 413 and body["error"] == (
        f"the body has {len(five_mb)} bytes; Vertex AI accepts at most 1500000 per prediction request "
        "(SMTOOLKIT_VERTEX_MAX_REQUEST_MB=1.5; a dedicated, Private Service Connect or private endpoint takes up to 10)"
    )


@pytest.mark.parametrize("value", ["0", "-1", "10.5", "nan", "ten"])
def test_a_vertex_request_limit_out_of_range_is_refused_naming_the_variable(value: str) -> None:
    with pytest.raises(ConfigError) as raised:
        settings(SMTOOLKIT_VERTEX_MAX_REQUEST_MB=value)
    assert f"SMTOOLKIT_VERTEX_MAX_REQUEST_MB: got {value!r}" in str(raised.value)
    if value != "ten":
        assert "expected MB above 0 and at most 10: Vertex AI takes 1.5 MB on a shared public endpoint" in str(
            raised.value
        )


def test_the_request_limit_lets_a_dedicated_vertex_endpoints_requests_through(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", "smtoolkit.serve.platforms")
    environ = {"AIP_MODE": "PREDICTION", "SMTOOLKIT_VERTEX_MAX_REQUEST_MB": "10"}
    served, _, _ = plan_protocols(ServingSettings.from_environ(environ), tmp_path, environ)
    assert served.max_payload_in_mb == 10  # 10 MiB >= 10 MB: SAGEMAKER_MAX_PAYLOAD_IN_MB unset (6) would refuse
    assert "SAGEMAKER_MAX_PAYLOAD_IN_MB unset: 10 for SMTOOLKIT_VERTEX_MAX_REQUEST_MB=10" in caplog.text
    environ["SAGEMAKER_MAX_PAYLOAD_IN_MB"] = "6"
    served, _, _ = plan_protocols(ServingSettings.from_environ(environ), tmp_path, environ)
    assert served.max_payload_in_mb == 6
    assert "SAGEMAKER_MAX_PAYLOAD_IN_MB=6 caps Vertex AI's requests at 6291456 bytes" in caplog.text
    shared = {"AIP_MODE": "PREDICTION"}
    assert plan_protocols(ServingSettings.from_environ(shared), tmp_path, shared)[0].max_payload_in_mb == 6


def test_oip_refuses_a_transform_fn_script_at_start_up() -> None:
    loaded = handler(transform_fn=lambda model, body, content_type, accept: body)
    with pytest.raises(EntryPointError, match="transform_fn.*define predict_fn"):
        create_app(loaded, settings(), Protocols(oip=True))


def test_compressed_bodies_inflate_within_the_limit() -> None:
    body = b'{"inputs": []}'
    assert decoded_body(gzip.compress(body), "gzip", 100) == body
    assert decoded_body(zlib.compress(body), "Deflate", 100) == body
    assert decoded_body(body, None, 100) == body
    with pytest.raises(PayloadTooLarge, match="inflates past the limit of 1000"):
        decoded_body(gzip.compress(b"0" * 10_000_000), "gzip", 1000)  # a small body that would grow 10 MB
    with pytest.raises(BadRequest, match="not valid gzip"):
        decoded_body(b"plain", "gzip", 100)
    with pytest.raises(BadRequest, match="ends before"):
        decoded_body(gzip.compress(body)[:-9], "gzip", 100)
    with pytest.raises(UnsupportedMediaType, match="'br' is not supported; use gzip or deflate"):
        decoded_body(body, "br", 100)


def test_variables_of_a_protocol_that_is_off_are_reported(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("AIP_STORAGE_URI", "gs://bucket/model")
    monkeypatch.setenv("SMTOOLKIT_OIP_MODEL_NAME", "m")
    assert warn_unused(Protocols()) == ["SMTOOLKIT_OIP_MODEL_NAME", "AIP_STORAGE_URI"]
    assert "AIP_STORAGE_URI is set but unused: serving sagemaker" in caplog.text
    assert warn_unused(Protocols(VertexSettings(), oip=True)) == []


def test_a_versioned_model_answers_on_its_version_routes_only() -> None:
    chosen = settings(SMTOOLKIT_SERVE_PROTOCOLS="oip", SMTOOLKIT_OIP_MODEL_NAME="m", SMTOOLKIT_OIP_MODEL_VERSION="3")
    router = create_app(
        handler(predict_fn=lambda data, model: data), chosen, choose_protocols(chosen, VertexSettings())
    )
    body = json.dumps({"inputs": [{"name": "a", "shape": [1], "datatype": "INT64", "data": [5]}]}).encode()
    status, answer = post(router, "/v2/models/m/versions/3/infer", body)
    assert status == 200 and answer["model_version"] == "3" and answer["outputs"][0]["data"] == [5]
    assert post(router, "/v2/models/m/infer", body)[0] == 200  # the server's choice of version: its only one
    assert post(router, "/v2/models/m/versions/4/infer", body) == (
        404,
        {"error": "model 'm' has no version '4'; it has version '3'"},
    )
    metadata = json.loads(router.handle(Request("GET", "/v2/models/m/versions/3")).body)
    assert metadata["name"] == "m" and metadata["versions"] == ["3"]
    assert json.loads(router.handle(Request("GET", "/v2/models/m/versions/3/ready")).body) == {"ready": True}


def test_oip_before_the_model_loads_is_503_but_live() -> None:
    user = handlers_from(SimpleNamespace(model_fn=lambda model_dir: Seen(), predict_fn=lambda d, m: d), "inference.py")
    waiting = InferenceHandler(user, Path("/opt/ml/model"), default_codecs(), "application/json")
    router = create_app(waiting, settings(), Protocols(oip=True))
    assert router.handle(Request("GET", "/v2/health/live")).status == 200
    for path in ("/v2/health/ready", "/v2/models/model/ready", "/v2/models/model"):
        answer = router.handle(Request("GET", path))
        assert (answer.status, json.loads(answer.body)) == (503, {"error": "the model is not loaded yet"})


def test_a_model_to_fetch_is_fetched_at_start_up_and_a_folder_is_used_in_place(tmp_path: Path) -> None:
    folder, target = tmp_path / "artifacts", tmp_path / "model"
    folder.mkdir()
    (folder / "weights.json").write_text("{}")
    assert model_source(str(folder), target) == (folder, None)
    assert model_source(None, target) == (target, None)
    archive = tmp_path / "model.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(folder / "weights.json", "weights.json")
    where, fetch = model_source(f"file://{archive}", target)
    assert where == target and fetch is not None and not target.exists()  # nothing fetched yet
    fetch()
    assert (target / "weights.json").read_text() == "{}"
    assert model_source("gs://bucket/model", target)[1] is not None
    with pytest.raises(ConfigError, match="AIP_STORAGE_URI: got 's3://b/m': expected gs://"):
        model_source("s3://b/m", target)


def test_serve_help_lists_each_protocols_routes_and_the_handlers_inputs() -> None:
    shown = subprocess.run(
        [sys.executable, "-m", "smtoolkit", "serve", "--help"], capture_output=True, text=True, check=True
    ).stdout
    for expected in (
        "POST /invocations",
        "POST $AIP_PREDICT_ROUTE",
        "POST /v2/models/NAME[/versions/V]/infer",
        "POST /models/NAME/invoke",
        "batch_predict_fn(batch, model)",
    ):
        assert expected in shown
    assert "context.parameters" in shown and "predict_fn(data, model) gets the decoded tensor" in shown
