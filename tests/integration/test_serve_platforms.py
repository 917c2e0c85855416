"""One `serve`, one inference.py, three platforms on one port: SageMaker's /invocations, Vertex AI's AIP_* routes
(AIP_* as Vertex sets them, the model from AIP_STORAGE_URI) and the Open Inference Protocol, driven by real
clients: tritonclient.http (JSON and binary tensors, gzip) and the OIP working group's OpenAPI client."""

from __future__ import annotations

import json
import subprocess
import sys
import tarfile
import textwrap
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
import tritonclient.http as triton
from open_inference.openapi import types as oip_types
from open_inference.openapi.client import OpenInferenceClient
from open_inference.openapi.errors.bad_request_error import BadRequestError
from tritonclient.utils import InferenceServerException

from tests.integration.platforms import (
    HEALTH_ROUTE,
    PREDICT_ROUTE,
    SCRIPT,
    client,
    start_everywhere,
    vertex_environ,
)
from tests.integration.serving import Server, free_port, server_env, start, stop, wait_for, wait_ready, worker_class

__all__ = ["client", "worker_class"]  # fixtures: a tritonclient of `server`; this module once per worker class

pytestmark = pytest.mark.integration

ROWS = [[1.0, 2.0], [3.0, 4.5]]
EXPECTED = [[2 * v + 10 for v in row] for row in ROWS]  # offset.txt holds 10


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, worker_class: str) -> Iterator[Server]:
    """Vertex AI + OIP + SageMaker; the model is a tarball at AIP_STORAGE_URI, released by the first test."""
    base = tmp_path_factory.mktemp("platforms")
    source = base / "artifacts"
    source.mkdir()
    (source / "offset.txt").write_text("10")
    archive = base / "model.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(source / "offset.txt", "offset.txt")
    # 6 MB, SageMaker's default, so that Vertex's own 1.5 MB limit is the one a large body meets
    running = start_everywhere(base, archive, worker_class, SAGEMAKER_MAX_PAYLOAD_IN_MB="6")
    try:
        yield running
    finally:
        stop(running)


def _health(server: Server) -> int | None:
    assert server.process.poll() is None, server.output()
    try:
        return server.request("GET", HEALTH_ROUTE).status
    except ConnectionError:
        return None


def test_vertex_health_is_503_before_the_model_loads_and_200_after(server: Server) -> None:
    wait_for(lambda: _health(server) == 503, 30, "the health route answering 503 while model_fn waits")
    assert server.request("GET", "/v2/health/ready").status == 503
    (server.base / "model" / "release").touch()  # AIP_STORAGE_URI's tarball was unpacked into SM's model dir
    wait_for(lambda: _health(server) == 200, 30, "the health route answering 200")
    assert server.request("GET", HEALTH_ROUTE).json() == {"status": "healthy"}
    assert "Serving protocols: sagemaker, vertex, oip" in server.output()


def _vertex(server: Server, payload: object) -> tuple[int, object]:
    reply = server.request("POST", PREDICT_ROUTE, json.dumps(payload).encode(), **{"Content-Type": "application/json"})
    return reply.status, reply.json()


def test_vertex_predicts_instances_with_parameters_through_the_context(server: Server) -> None:
    assert _vertex(server, {"instances": ROWS}) == (200, {"predictions": EXPECTED})
    scaled = [[3 * v for v in row] for row in EXPECTED]
    assert _vertex(server, {"instances": ROWS, "parameters": {"scale": 3}}) == (200, {"predictions": scaled})


def test_vertex_errors_are_error_bodies_with_their_status(server: Server) -> None:
    status, body = _vertex(server, {"instance": ROWS})
    assert status == 400 and "did you mean instances?" in body["error"]  # type: ignore[index]
    assert _vertex(server, {"instances": ROWS, "parameters": {"status": 422}}) == (422, {"error": "asked to fail"})
    big = server.request("POST", PREDICT_ROUTE, b'{"instances": ["' + b"x" * 1_600_000 + b'"]}')
    assert big.status == 413 and "1500000" in big.json()["error"]
    bad = server.request("POST", PREDICT_ROUTE, b"{nope")
    assert bad.status == 400 and "not valid JSON" in bad.json()["error"]


def test_a_raw_predict_body_goes_through_as_on_invocations_and_comes_back_unwrapped(server: Server) -> None:
    """rawPredict: Vertex passes the body as sent; a JSON list (not an object with "instances") is the body
    /invocations would get, and the answer is the handlers' own, not {"predictions": ...}."""
    raw = server.request("POST", PREDICT_ROUTE, json.dumps(ROWS).encode(), **{"Content-Type": "application/json"})
    assert (raw.status, raw.json()) == (200, EXPECTED)
    assert raw.json() == server.invoke(json.dumps(ROWS).encode(), "application/json").json()


def test_the_same_script_answers_alike_on_every_protocol(server: Server, client: triton.InferenceServerClient) -> None:
    sagemaker = server.invoke(json.dumps(ROWS).encode(), "application/json").json()
    _, vertex = _vertex(server, {"instances": ROWS})
    tensor = triton.InferInput("x", [2, 2], "FP32")
    tensor.set_data_from_numpy(np.array(ROWS, np.float32), binary_data=False)
    oip = client.infer("model", [tensor]).as_numpy("y")
    assert sagemaker == vertex["predictions"] == oip.tolist() == EXPECTED  # type: ignore[index]


def test_tritonclient_reads_health_and_metadata(client: triton.InferenceServerClient) -> None:
    assert client.is_server_live() and client.is_server_ready() and client.is_model_ready("model")
    assert not client.is_model_ready("other")
    assert client.get_server_metadata()["extensions"] == ["binary_tensor_data"]
    metadata = client.get_model_metadata("model")
    assert metadata["inputs"] == [{"name": "x", "datatype": "FP32", "shape": [-1, -1]}]
    assert metadata["outputs"] == [{"name": "y", "datatype": "FP32", "shape": [-1, -1]}]


@pytest.mark.parametrize("binary", [False, True], ids=["json", "binary"])
@pytest.mark.parametrize("compression", [None, "gzip", "deflate"])
def test_tritonclient_infers_fp32(client: triton.InferenceServerClient, binary: bool, compression: str | None) -> None:
    tensor = triton.InferInput("x", [2, 2], "FP32")
    tensor.set_data_from_numpy(np.array(ROWS, np.float32), binary_data=binary)
    wanted = [triton.InferRequestedOutput("y", binary_data=binary)]
    result = client.infer(
        "model", [tensor], request_id="r-1", outputs=wanted, request_compression_algorithm=compression
    )
    assert result.get_response()["id"] == "r-1"
    np.testing.assert_array_equal(result.as_numpy("y"), np.array(EXPECTED, np.float32))


def _texts(array: np.ndarray) -> list[bytes]:
    """BYTES elements as bytes: tritonclient gives str for JSON data, bytes for binary data."""
    return [v if isinstance(v, bytes) else v.encode() for v in array.ravel()]


@pytest.mark.parametrize("binary", [False, True], ids=["json", "binary"])
def test_tritonclient_infers_int64_and_bytes_inputs(client: triton.InferenceServerClient, binary: bool) -> None:
    numbers = triton.InferInput("n", [3], "INT64")
    numbers.set_data_from_numpy(np.array([7, -8, 2**40], np.int64), binary_data=binary)
    words = triton.InferInput("s", [2], "BYTES")
    words.set_data_from_numpy(np.array([b"hi", b"there"], dtype=object), binary_data=binary)
    result = client.infer("model", [numbers, words], outputs=None)  # two inputs: echoed as a dict
    np.testing.assert_array_equal(result.as_numpy("n"), [7, -8, 2**40])
    assert result.as_numpy("n").dtype == np.int64
    assert _texts(result.as_numpy("s")) == [b"hi", b"there"]
    single = triton.InferInput("s", [2], "BYTES")
    single.set_data_from_numpy(np.array([b"ab", b"cd"], dtype=object), binary_data=binary)
    upper = client.infer("model", [single], outputs=[triton.InferRequestedOutput("y", binary_data=binary)])
    assert _texts(upper.as_numpy("y")) == [b"AB", b"CD"]


def test_tritonclient_errors_name_the_tensor_or_model(client: triton.InferenceServerClient) -> None:
    short = triton.InferInput("x", [2, 3], "FP32")
    short.set_data_from_numpy(np.ones((2, 3), np.float32), binary_data=False)
    short._raw_data = None
    short._parameters.pop("binary_data_size", None)
    short._data = [1.0, 2.0]  # fewer elements than its shape: what a buggy client sends
    with pytest.raises(InferenceServerException) as error:
        client.infer("model", [short])
    assert error.value.status() == "400" and "input 'x'" in error.value.message()
    with pytest.raises(InferenceServerException) as missing:
        client.infer("modle", [short])
    assert missing.value.status() == "404" and "did you mean model?" in missing.value.message()
    tensor = triton.InferInput("x", [1, 2], "FP32")
    tensor.set_data_from_numpy(np.ones((1, 2), np.float32))
    with pytest.raises(InferenceServerException) as output:
        client.infer("model", [tensor], outputs=[triton.InferRequestedOutput("z")])
    assert output.value.status() == "400" and "no output 'z'" in output.value.message()


def test_the_openapi_client_reads_metadata_and_infers(server: Server) -> None:
    with httpx.Client(timeout=10) as http:
        _openapi_calls(OpenInferenceClient(base_url=f"http://127.0.0.1:{server.port}", httpx_client=http))


def _openapi_calls(client: OpenInferenceClient) -> None:
    client.check_server_liveness()
    client.check_model_readiness("model")
    assert client.read_model_metadata("model").name == "model"
    request = oip_types.InferenceRequest.parse_obj(
        {"id": "a", "inputs": [{"name": "x", "shape": [2, 2], "datatype": "FP32", "data": [1, 2, 3, 4.5]}]}
    )
    response = client.model_infer("model", request=request)
    assert response.id == "a" and response.outputs[0].name == "y"
    assert response.outputs[0].data.__root__ == [v for row in EXPECTED for v in row]
    bad = oip_types.InferenceRequest.parse_obj(
        {"inputs": [{"name": "x", "shape": [3], "datatype": "FP32", "data": [1]}]}
    )
    with pytest.raises(BadRequestError) as error:
        client.model_infer("model", request=bad)
    assert "input 'x'" in error.value.body["error"]


def test_a_dedicated_vertex_endpoint_takes_a_request_over_the_shared_limit(tmp_path: Path) -> None:
    """SMTOOLKIT_VERTEX_MAX_REQUEST_MB=10 lets an 8 MB request through, and refuses one over 10 MB by name."""
    artifacts = tmp_path / "artifacts"
    artifacts.mkdir()
    (artifacts / "offset.txt").write_text("10")
    (artifacts / "release").touch()
    running = start_everywhere(
        tmp_path, artifacts, SMTOOLKIT_VERTEX_MAX_REQUEST_MB="10", SAGEMAKER_MAX_PAYLOAD_IN_MB="20"
    )
    try:
        wait_for(lambda: _health(running) == 200, 30, "the health route answering 200")
        padded = b'{"instances": [[1.0, 2.0]]' + b" " * 8_000_000 + b"}"  # whitespace: 8 MB of valid JSON
        reply = running.request("POST", PREDICT_ROUTE, padded, **{"Content-Type": "application/json"})
        assert (reply.status, reply.json()) == (200, {"predictions": [[12.0, 14.0]]})
        over = running.request("POST", PREDICT_ROUTE, padded + b" " * 2_000_000)
        assert over.status == 413 and "SMTOOLKIT_VERTEX_MAX_REQUEST_MB=10" in over.json()["error"]
    finally:
        stop(running)


def test_on_kserve_the_model_comes_from_the_storage_initializers_folder(tmp_path: Path) -> None:
    """SageMaker's model dir is empty, KServe's folder holds the model: --dry-run names it, model_fn reads it."""
    base, models = tmp_path / "ml", tmp_path / "mnt" / "models"
    models.mkdir(parents=True)
    (models / "offset.txt").write_text("100")
    (models / "release").touch()
    extra = {"SMTOOLKIT_SERVE_PROTOCOLS": "oip", "SMTOOLKIT_KSERVE_MODEL_DIR": str(models)}
    (base / "model").mkdir(parents=True)  # empty, as an image may make it
    (base / "code").mkdir()
    (base / "code" / "inference.py").write_text(textwrap.dedent(SCRIPT))
    for _ in range(2):
        dry = subprocess.run(
            [sys.executable, "-m", "smtoolkit.serve", "--dry-run"],
            env=server_env(base, free_port(), extra),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert dry.returncode == 0, dry.stderr
        assert json.loads(dry.stdout)["model"]["directory"] == str(models)
        assert f"Model dir: KServe's {models} (SMTOOLKIT_KSERVE_MODEL_DIR)" in dry.stderr
    running = start(base, SCRIPT, **extra)
    try:
        wait_ready(running)
        tensor = {"name": "x", "datatype": "FP32", "shape": [1, 2], "data": [1, 2]}
        reply = running.request("POST", "/v2/models/model/infer", json.dumps({"inputs": [tensor]}).encode())
        assert reply.status == 200 and reply.json()["outputs"][0]["data"] == [102.0, 104.0]
    finally:
        stop(running)


STREAMING_SCRIPT = """
from smtoolkit.serve import sse


def model_fn(model_dir):
    return "token"


def transform_fn(model, body, content_type, accept):
    return sse(f"{model}{i}" for i in range(int(body)))
"""


def test_stream_raw_predict_streams_the_handlers_server_sent_events(tmp_path: Path) -> None:
    """streamRawPredict: a raw body whose handlers stream is answered chunk by chunk, as on /invocations."""
    artifacts = tmp_path / "artifacts"
    artifacts.mkdir()
    (artifacts / "weights").write_text("1")
    port = free_port()
    environ = vertex_environ(port, artifacts)
    running = start(tmp_path, STREAMING_SCRIPT, "async", SAGEMAKER_BIND_TO_PORT=str(port), **environ)
    try:
        wait_for(lambda: _health(running) == 200, 30, "the health route answering 200")
        reply = running.request("POST", PREDICT_ROUTE, b"3", **{"Content-Type": "text/plain"})
        assert reply.status == 200, reply.body
        assert reply.headers["content-type"].startswith("text/event-stream")
        assert reply.headers.get("transfer-encoding") == "chunked"
        assert reply.body.decode().split("\n\n")[:3] == ["data: token0", "data: token1", "data: token2"]
    finally:
        stop(running)
