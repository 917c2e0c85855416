"""Inference script served inside the image: the model is a mean; the prediction is each row's sum plus it.
Its own input_fn parses JSON with the standard library (the base image has no numpy)."""

import json
from pathlib import Path
from typing import Any


def model_fn(model_dir: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(Path(model_dir, "model.json").read_text())
    return loaded


def input_fn(body: bytes, content_type: str) -> list[list[float]]:
    rows: list[list[float]] = json.loads(body)
    return rows


def predict_fn(data: list[list[float]], model: dict[str, Any]) -> list[float]:
    return [sum(row) + model["mean"] for row in data]
