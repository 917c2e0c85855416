"""Inference scripts written for the AWS toolkits, served unchanged by the real `serve`: the
model_fn/input_fn/predict_fn/output_fn variant (with sagemaker-inference's `context`) and the transform_fn one."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.serving import Server, start, stop, wait_for, wait_ready, worker_class

pytestmark = pytest.mark.integration
__all__ = ["worker_class"]  # the fixture that runs this module once per worker class

PIPELINE_SCRIPT = """
import json
import os

import numpy as np


def model_fn(model_dir):
    with open(os.path.join(model_dir, "weights.json")) as weights:
        return {"scale": json.load(weights)["scale"]}


def input_fn(request_body, request_content_type):
    assert isinstance(request_body, str), type(request_body)  # the toolkits decode JSON and CSV bodies
    if request_content_type == "application/json":
        return np.array(json.loads(request_body)["instances"], dtype=float)
    if request_content_type == "text/csv":
        return np.array([[float(v) for v in line.split(",")] for line in request_body.splitlines()])
    raise ValueError("unsupported content type " + request_content_type)


def predict_fn(input_data, model, context):
    attributes = context.get_request_header(0, "X-Amzn-SageMaker-Custom-Attributes")
    if attributes:
        context.set_response_header(0, "X-Amzn-SageMaker-Custom-Attributes", "seen=" + attributes)
    return input_data * model["scale"]


def output_fn(prediction, accept):
    if accept == "text/csv":
        return "\\n".join(",".join(str(v) for v in row) for row in prediction.tolist()), "text/csv"
    return json.dumps({"predictions": prediction.tolist()})
"""

TRANSFORM_SCRIPT = """
import json


def model_fn(model_dir):
    return lambda rows: [sum(row) for row in rows]


def transform_fn(model, request_body, content_type, accept):
    rows = [[float(v) for v in line.split(",")] for line in request_body.splitlines() if line]
    sums = model(rows)
    if accept == "application/jsonlines":
        return "".join(json.dumps({"sum": s}) + "\\n" for s in sums), accept
    return json.dumps(sums), "application/json"


def execution_parameters_fn():
    return {"MaxConcurrentTransforms": 4, "BatchStrategy": "SINGLE_RECORD"}
"""


@pytest.fixture(scope="module")
def pipeline_server(tmp_path_factory: pytest.TempPathFactory, worker_class: str) -> Iterator[Server]:
    base = tmp_path_factory.mktemp("pipeline") / "ml"
    (base / "model").mkdir(parents=True)
    (base / "model" / "weights.json").write_text(json.dumps({"scale": 2}))
    server = start(base, PIPELINE_SCRIPT, worker_class)
    try:
        wait_ready(server, 20)
        yield server
    finally:
        stop(server)


def test_pipeline_functions_json_in_json_out(pipeline_server: Server):
    reply = pipeline_server.invoke(json.dumps({"instances": [[1, 2], [3, 4]]}).encode(), "application/json")
    assert (reply.status, reply.headers["content-type"]) == (200, "application/json")
    assert reply.json() == {"predictions": [[2.0, 4.0], [6.0, 8.0]]}


def test_pipeline_functions_csv_with_a_charset_and_an_accept_list(pipeline_server: Server):
    accept = "application/xml;q=0.1, text/csv;q=0.9"
    reply = pipeline_server.invoke(b"1,2\n3,4", "text/csv; charset=utf-8", Accept=accept)
    assert (reply.status, reply.headers["content-type"], reply.body) == (200, "text/csv", b"2.0,4.0\n6.0,8.0")


def test_pipeline_context_reads_and_sets_custom_attributes(pipeline_server: Server):
    headers = {"X-Amzn-SageMaker-Custom-Attributes": "c000b4f9-df62-4c85-a0bf-7c525f9104a4"}
    reply = pipeline_server.invoke(b"1", "text/csv", Accept="text/csv", **headers)
    assert reply.status == 200 and reply.body == b"2.0"
    assert reply.headers["x-amzn-sagemaker-custom-attributes"] == "seen=c000b4f9-df62-4c85-a0bf-7c525f9104a4"


def test_pipeline_input_fn_failure_is_a_500_without_its_message(pipeline_server: Server):
    reply = pipeline_server.invoke(b"\x00\x01", "application/octet-stream")
    assert reply.status == 500 and reply.json()["message"].startswith("input_fn failed with AssertionError")


@pytest.fixture(scope="module")
def transform_server(tmp_path_factory: pytest.TempPathFactory, worker_class: str) -> Iterator[Server]:
    server = start(
        tmp_path_factory.mktemp("transform") / "ml",
        TRANSFORM_SCRIPT,
        worker_class,
        SAGEMAKER_MODEL_SERVER_ACCESS_LOG="1",
    )
    try:
        wait_ready(server, 20)
        yield server
    finally:
        stop(server)


def test_transform_fn_end_to_end(transform_server: Server):
    reply = transform_server.invoke(b"1,2,3\n4,5,6\n", "text/csv")
    assert (reply.status, reply.headers["content-type"], reply.json()) == (200, "application/json", [6.0, 15.0])
    reply = transform_server.invoke(b"1,1\n", "text/csv", Accept="application/jsonlines")
    assert (reply.headers["content-type"], reply.body) == ("application/jsonlines", b'{"sum": 2.0}\n')


def test_transform_fn_execution_parameters_override(transform_server: Server):
    reply = transform_server.request("GET", "/execution-parameters")
    assert reply.json() == {"MaxConcurrentTransforms": 4, "BatchStrategy": "SINGLE_RECORD", "MaxPayloadInMB": 1}


def test_access_log_when_asked_for_skips_ping(transform_server: Server):
    for _ in range(3):
        assert transform_server.request("GET", "/ping").status == 200
    assert transform_server.invoke(b"7\n", "text/csv").status == 200
    wait_for(lambda: '"POST /invocations HTTP/1.1" 200' in transform_server.output(), 5, "an access-log line")
    assert '"GET /ping' not in transform_server.output()


def test_script_in_the_sdk_layout_model_code(tmp_path: Path, worker_class: str):
    base = tmp_path / "ml"
    (base / "model" / "code").mkdir(parents=True)
    (base / "model" / "code" / "inference.py").write_text(TRANSFORM_SCRIPT)
    server = start(base, None, worker_class)
    try:
        wait_ready(server, 20)
        assert server.invoke(b"2,3\n", "text/csv").json() == [5.0]
    finally:
        stop(server)
