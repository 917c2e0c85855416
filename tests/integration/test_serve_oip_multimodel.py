"""The Open Inference Protocol on a multi-model endpoint, through real gunicorn over HTTP: every model loaded by
POST /models (or the repository extension) answers /v2/models/NAME by its name, from every worker, to
tritonclient.http (JSON and binary tensors); the repository extension's index, load and unload."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import tritonclient.http as triton
from tritonclient.utils import InferenceServerException

from tests.integration.platforms import client
from tests.integration.serving import Reply, Server, start, stop, wait_for, wait_ready, worker_class

__all__ = ["client", "worker_class"]  # fixtures: a tritonclient of `server`; this module once per worker class

pytestmark = pytest.mark.integration

SCRIPT = """
import os
from pathlib import Path

import numpy as np

class Scaler:
    oip_inputs = [{"name": "x", "datatype": "FP32", "shape": [-1]}]
    oip_outputs = [{"name": "y", "datatype": "FP32", "shape": [-1]}, {"name": "pid", "datatype": "INT64", "shape": [1]}]

    def __init__(self, factor):
        self.factor = factor
        self.oip_platform = f"scaler-{factor:g}"

def model_fn(model_dir):
    return Scaler(float((Path(model_dir) / "factor.txt").read_text()))

def predict_fn(data, model):
    return {"y": np.asarray(data, np.float32) * model.factor, "pid": np.array([os.getpid()], np.int64)}
"""
JSON = {"Content-Type": "application/json"}
MakeModel = Callable[..., str]
TRANSFORM_SCRIPT = """
def model_fn(model_dir):
    return 1

def transform_fn(model, body, content_type, accept):
    return body
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, worker_class: str) -> Iterator[Server]:
    base = tmp_path_factory.mktemp("oip-mme")
    running = start(
        base,
        SCRIPT,
        worker_class,
        SAGEMAKER_MULTI_MODEL="true",
        SMTOOLKIT_SERVE_PROTOCOLS="oip",
        SMTOOLKIT_OIP_MODEL_NAME="ignored",  # each model has its own name here: said unused at start-up
    )
    try:
        wait_ready(running)
        yield running
    finally:
        stop(running)


@pytest.fixture
def make_model(tmp_path: Path) -> MakeModel:
    def make(name: str, factor: float, script: str | None = None) -> str:
        folder = tmp_path / "models" / name
        folder.mkdir(parents=True)
        (folder / "factor.txt").write_text(str(factor))
        if script is not None:
            (folder / "code").mkdir()
            (folder / "code" / "inference.py").write_text(script)
        return str(folder)

    return make


def load(server: Server, name: str, url: str) -> Reply:
    return server.request("POST", "/models", json.dumps({"model_name": name, "url": url}).encode(), **JSON)


def post(server: Server, path: str, document: object) -> Reply:
    return server.request("POST", path, json.dumps(document).encode(), **JSON)


def infer(client: triton.InferenceServerClient, name: str, values: list[float], binary: bool) -> np.ndarray:
    tensor = triton.InferInput("x", [len(values)], "FP32")
    tensor.set_data_from_numpy(np.array(values, np.float32), binary_data=binary)
    wanted = [triton.InferRequestedOutput("y", binary_data=binary)]
    result = client.infer(name, [tensor], outputs=wanted)
    assert result.get_response()["model_name"] == name
    answer: np.ndarray = result.as_numpy("y")
    return answer


@pytest.mark.parametrize("binary", [False, True], ids=["json", "binary"])
def test_models_loaded_by_post_models_answer_by_name(
    server: Server, client: triton.InferenceServerClient, make_model: MakeModel, binary: bool
) -> None:
    suffix = "-b" if binary else "-j"
    double, triple = f"double{suffix}", f"triple{suffix}"
    assert load(server, double, make_model(double, 2)).status == 200
    assert load(server, triple, make_model(triple, 3)).status == 200
    np.testing.assert_array_equal(infer(client, double, [1, 2.5], binary), np.array([2, 5], np.float32))
    np.testing.assert_array_equal(infer(client, triple, [1, 2.5], binary), np.array([3, 7.5], np.float32))
    for name, platform in ((double, "scaler-2"), (triple, "scaler-3")):
        assert client.is_model_ready(name)
        metadata = client.get_model_metadata(name)
        assert (metadata["name"], metadata["platform"]) == (name, platform)
        assert metadata["inputs"] == [{"name": "x", "datatype": "FP32", "shape": [-1]}]
    for name in (double, triple):
        assert server.request("DELETE", f"/models/{name}").status == 200
    assert not client.is_model_ready(double)


def test_an_unknown_model_or_a_version_is_a_404_error_body(
    server: Server, client: triton.InferenceServerClient, make_model: MakeModel
) -> None:
    for method, path in (("GET", "/v2/models/nope"), ("GET", "/v2/models/nope/ready")):
        reply = server.request(method, path)
        assert (reply.status, reply.json()) == (404, {"error": "Model not found: nope"})
    reply = post(
        server, "/v2/models/nope/infer", {"inputs": [{"name": "x", "datatype": "FP32", "shape": [1], "data": [1]}]}
    )
    assert (reply.status, reply.json()) == (404, {"error": "Model not found: nope"})
    with pytest.raises(InferenceServerException, match="Model not found: nope"):
        client.get_model_metadata("nope")
    assert load(server, "versionless", make_model("versionless", 1)).status == 200
    reply = server.request("GET", "/v2/models/versionless/versions/1")
    assert reply.status == 404 and "models of a multi-model endpoint have none" in reply.json()["error"]
    assert server.request("DELETE", "/models/versionless").status == 200


def test_every_worker_answers_for_a_model_loaded_through_one(server: Server, make_model: MakeModel) -> None:
    assert load(server, "everywhere", make_model("everywhere", 4)).status == 200
    workers, seen = server.worker_pids(), set()
    request = {"inputs": [{"name": "x", "datatype": "FP32", "shape": [1], "data": [1.5]}]}

    def spread() -> bool:
        with ThreadPoolExecutor(8) as pool:  # a new connection each: gunicorn hands them to either worker
            for reply in pool.map(lambda _: post(server, "/v2/models/everywhere/infer", request), range(16)):
                assert reply.status == 200, reply.body
                outputs = {output["name"]: output["data"] for output in reply.json()["outputs"]}
                assert outputs["y"] == [6.0]
                seen.add(outputs["pid"][0])
        return seen >= workers

    wait_for(spread, 30, f"every worker {workers} to answer (seen {seen})")
    assert server.request("DELETE", "/models/everywhere").status == 200


def test_the_repository_extension_indexes_loads_and_unloads(
    server: Server, client: triton.InferenceServerClient, make_model: MakeModel
) -> None:
    assert "model_repository" in client.get_server_metadata()["extensions"]
    url = make_model("repo", 5)
    assert post(server, "/v2/repository/models/repo/load", {"parameters": {"url": url}}).status == 200
    assert server.request("GET", "/models/repo").json() == {"modelName": "repo", "modelUrl": url}  # as POST /models
    assert {"name": "repo", "state": "READY", "reason": ""} in client.get_model_repository_index()
    client.load_model("repo")  # already loaded: no folder needed
    assert post(server, "/v2/repository/models/repo/load", {"parameters": {"url": url}}).status == 200
    np.testing.assert_array_equal(infer(client, "repo", [2], True), np.array([10], np.float32))
    client.unload_model("repo")
    assert not client.is_model_ready("repo")
    assert "repo" not in [model["name"] for model in client.get_model_repository_index()]
    with pytest.raises(InferenceServerException, match="Model not found: repo"):
        client.unload_model("repo")


def test_bad_repository_requests_say_what_is_wrong(
    server: Server, client: triton.InferenceServerClient, make_model: MakeModel
) -> None:
    with pytest.raises(InferenceServerException, match=r"'unknown' is not loaded; give its folder"):
        client.load_model("unknown")
    with pytest.raises(InferenceServerException, match="load has an unknown field 'config'; its fields: url"):
        client.load_model("unknown", config="{}")
    typo = post(server, "/v2/repository/models/x/load", {"parameters": {"ulr": "/a"}})
    assert typo.status == 400 and "did you mean url?" in typo.json()["error"]
    assert post(server, "/v2/repository/models/x/load", {"parameters": {"url": "/no/such"}}).status == 404
    bad = server.request("POST", "/v2/repository/models/x/load", b"{nope", **JSON)
    assert bad.status == 400 and "load is not valid JSON" in bad.json()["error"]
    index = post(server, "/v2/repository/index", {"ready": "yes"})
    assert (index.status, index.json()) == (
        400,
        {"error": 'ready in the body of POST /v2/repository/index must be true or false, got "yes"'},
    )
    unload = post(server, "/v2/repository/models/x/unload", {"parameters": {"unload_dependents": "no"}})
    assert unload.status == 400 and "unload_dependents in parameters in the body" in unload.json()["error"]
    misplaced = post(server, "/v2/repository/models/x/load", {"url": "/a"})
    assert misplaced.status == 400 and "unknown field 'url'; its fields: parameters" in misplaced.json()["error"]
    url = make_model("held", 1)
    assert load(server, "held", url).status == 200
    other = post(server, "/v2/repository/models/held/load", {"parameters": {"url": url + "-other"}})
    assert other.status == 409 and "unload it first" in other.json()["error"]
    assert server.request("GET", "/models/held").json()["modelUrl"] == url
    assert server.request("DELETE", "/models/held").status == 200


def test_a_model_whose_script_takes_bodies_is_refused_by_name(server: Server, make_model: MakeModel) -> None:
    assert "SMTOOLKIT_OIP_MODEL_NAME is set but unused" in server.output()
    assert load(server, "bodies", make_model("bodies", 1, TRANSFORM_SCRIPT)).status == 200
    tensor = {"inputs": [{"name": "x", "datatype": "FP32", "shape": [1], "data": [1]}]}
    reply = post(server, "/v2/models/bodies/infer", tensor)
    assert reply.status == 400 and "defines transform_fn" in reply.json()["error"]
    assert server.request("POST", "/models/bodies/invoke", b"hi", **JSON).body == b"hi"  # SageMaker's route serves it
    assert server.request("DELETE", "/models/bodies").status == 200
