"""A linear model (weights.json in the model folder: {"weights": [...], "bias": b}) served the same way on
SageMaker (/invocations), Vertex AI ($AIP_PREDICT_ROUTE) and the Open Inference Protocol (/v2/models/linear/infer).

input_fn/output_fn decode and encode JSON bodies (/invocations, and Vertex's instances); predict_fn does the
work, and is what the Open Inference Protocol calls with the decoded FP32 tensor.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np


class Linear:
    # What GET /v2/models/linear reports, and the name of the single output.
    oip_inputs = [{"name": "features", "datatype": "FP32", "shape": [-1, -1]}]
    oip_outputs = [{"name": "score", "datatype": "FP32", "shape": [-1]}]

    def __init__(self, weights: list[float], bias: float) -> None:
        self.weights = np.asarray(weights, dtype=np.float32)
        self.bias = np.float32(bias)

    def predict(self, rows: Any) -> Any:
        return np.asarray(rows, dtype=np.float32) @ self.weights + self.bias


def model_fn(model_dir: str) -> Linear:
    spec = json.loads((Path(model_dir) / "weights.json").read_text())
    return Linear(spec["weights"], spec["bias"])


def input_fn(body: str, content_type: str) -> Any:
    return json.loads(body)  # /invocations' body, or Vertex's "instances" as JSON text


def predict_fn(data: Any, model: Linear, context: Any) -> Any:
    scores = model.predict(data)
    parameters = context.parameters if isinstance(context.parameters, dict) else {}  # Vertex / OIP "parameters"
    return scores > parameters["threshold"] if "threshold" in parameters else scores


def output_fn(prediction: Any, accept: str) -> str:
    return json.dumps(prediction.tolist())
