"""KServe's own Python REST client (kserve.InferenceRESTClient, protocol v2) against `serve`'s Open Inference
Protocol routes. kserve pins psutil<6, so it runs from a venv of its own under the repository's work/ folder,
made on first use (about a minute) and kept."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.serving import Server, start, stop, wait_ready
from tests.integration.throwaway import cached_venv

pytestmark = pytest.mark.integration

VENV = Path(__file__).resolve().parents[2] / "work" / "venvs" / "kserve"
REQUIREMENTS = ("kserve==0.21.0",)
SCRIPT = """
import numpy as np

def model_fn(model_dir):
    return None

def predict_fn(data, model):
    if isinstance(data, dict):
        return data  # several inputs: echoed
    return np.asarray(data) * 2
"""
# Runs in kserve's venv: the calls a KServe user makes, each outcome printed as one JSON line.
CLIENT = """
import asyncio, json, sys
import numpy as np
from kserve import InferenceRESTClient, InferInput, InferRequest, RESTConfig

async def main(base):
    async with InferenceRESTClient(RESTConfig(protocol="v2", timeout=10)) as client:
        report = {
            "live": await client.is_server_live(base),
            "ready": await client.is_server_ready(base),
            "model_ready": await client.is_model_ready(base, "model"),
        }
        x = InferInput("x", [2, 2], "FP32")
        x.set_data_from_numpy(np.array([[1, 2], [3, 4.5]], np.float32))
        answer = await client.infer(base, InferRequest("model", [x], request_id="k1"), model_name="model")
        report["fp32"] = [answer.id, answer.outputs[0].name, answer.outputs[0].as_numpy().tolist()]
        n = InferInput("n", [3], "INT64")
        n.set_data_from_numpy(np.array([1, -2, 2**40], np.int64))
        s = InferInput("s", [1], "BYTES")
        s.set_data_from_numpy(np.array(["hi"], dtype=object))
        both = await client.infer(base, InferRequest("model", [n, s]), model_name="model")
        report["mixed"] = {o.name: [o.datatype, o.data] for o in both.outputs}
        bad = InferInput("x", [3], "FP32", data=[1.0])
        try:
            await client.infer(base, InferRequest("model", [bad]), model_name="model")
        except Exception as error:
            report["error"] = [type(error).__name__, error.response.status_code, str(error)]
    print(json.dumps(report))

asyncio.run(main(sys.argv[1]))
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = start(tmp_path_factory.mktemp("kserve"), SCRIPT, SMTOOLKIT_SERVE_PROTOCOLS="oip")
    try:
        wait_ready(running)
        yield running
    finally:
        stop(running)


def test_kserve_rest_client(server: Server) -> None:
    python = cached_venv(VENV, REQUIREMENTS)
    result = subprocess.run(
        [str(python), "-c", CLIENT, f"http://127.0.0.1:{server.port}"], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["live"] and report["ready"] and report["model_ready"]
    assert report["fp32"] == ["k1", "output0", [[2.0, 4.0], [6.0, 9.0]]]
    assert report["mixed"] == {"n": ["INT64", [1, -2, 2**40]], "s": ["BYTES", ["hi"]]}
    kind, status, message = report["error"]
    assert kind == "HTTPStatusError" and status == 400 and "input 'x'" in message
