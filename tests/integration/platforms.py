"""Helpers for the multi-platform serving tests: AIP_* as Vertex AI sets them, one inference.py that every
protocol serves, and the `client` fixture: a tritonclient.http client of the module's `server` fixture."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import tritonclient.http as triton

from tests.integration.serving import Server, free_port, start

ENDPOINT_ID, DEPLOYED_MODEL_ID = "1234567890", "9876543210"
HEALTH_ROUTE = f"/v1/endpoints/{ENDPOINT_ID}/deployedModels/{DEPLOYED_MODEL_ID}"
PREDICT_ROUTE = f"{HEALTH_ROUTE}:predict"

# One script for all three protocols: input_fn/output_fn decode and encode /invocations and Vertex bodies,
# predict_fn does the work (and is what the Open Inference Protocol calls with the decoded tensor).
SCRIPT = """
import json
import time
from pathlib import Path

import numpy as np

from smtoolkit.errors import ServeError


class Affine:
    oip_inputs = [{"name": "x", "datatype": "FP32", "shape": [-1, -1]}]
    oip_outputs = [{"name": "y", "datatype": "FP32", "shape": [-1, -1]}]

    def __init__(self, offset):
        self.offset = offset

    def __call__(self, x):
        return x * 2 + self.offset


def model_fn(model_dir):
    release, deadline = Path(model_dir) / "release", time.monotonic() + 20
    while not release.exists():  # the test decides when loading ends (health before and after load)
        if time.monotonic() > deadline:
            raise TimeoutError("no release file")
        time.sleep(0.02)
    return Affine(float((Path(model_dir) / "offset.txt").read_text()))


def input_fn(body, content_type):
    return json.loads(body)


def predict_fn(data, model, context):
    params = context.parameters if isinstance(context.parameters, dict) else {}
    if "status" in params:
        raise ServeError("asked to fail", status=params["status"])
    if isinstance(data, dict):  # several OIP inputs: echo them back, typed as they came
        return data
    if isinstance(data, np.ndarray) and data.dtype == object:  # BYTES
        return np.array([item.upper() for item in data.ravel()], dtype=object).reshape(data.shape)
    return model(np.asarray(data, dtype=np.float32)) * params.get("scale", 1)


def output_fn(prediction, accept):
    return json.dumps(prediction.tolist())
"""


def vertex_environ(port: int, storage_uri: Path) -> dict[str, str]:
    """The AIP_* variables as Vertex AI sets them in a custom prediction container."""
    return {
        "AIP_MODE": "PREDICTION",
        "AIP_MODE_VERSION": "1.0.0",
        "AIP_HTTP_PORT": str(port),
        "AIP_HEALTH_ROUTE": HEALTH_ROUTE,
        "AIP_PREDICT_ROUTE": PREDICT_ROUTE,
        "AIP_STORAGE_URI": str(storage_uri),
        "AIP_ENDPOINT_ID": ENDPOINT_ID,
        "AIP_DEPLOYED_MODEL_ID": DEPLOYED_MODEL_ID,
        "AIP_MODEL_NAME": "projects/123/locations/us-central1/models/555",
        "AIP_PROJECT_NUMBER": "123",
        "AIP_MACHINE_TYPE": "n1-standard-2",
        "AIP_FRAMEWORK": "CUSTOM",
    }


def start_everywhere(base: Path, artifacts: Path, worker_class: str | None = None, **extra: str) -> Server:
    """`serve` on Vertex AI (AIP_STORAGE_URI=artifacts) with the Open Inference Protocol too, on one port."""
    port = free_port()
    environ = {**vertex_environ(port, artifacts), "SMTOOLKIT_SERVE_PROTOCOLS": "oip", **extra}
    return start(base, SCRIPT, worker_class, SAGEMAKER_BIND_TO_PORT=str(port), **environ)


@pytest.fixture
def client(server: Server) -> Iterator[triton.InferenceServerClient]:
    triton_client = triton.InferenceServerClient(f"127.0.0.1:{server.port}")
    try:
        yield triton_client
    finally:
        triton_client.close()
