"""The inference script for the model train.py writes (model.json: weights and bias of a linear model).

`serve` (and batch transform) call model_fn once, then predict_fn per request with the decoded body: rows of
features, e.g. from text/csv. The default output_fn encodes the predictions by the Accept header.
"""

import json
from pathlib import Path


def model_fn(model_dir):
    return json.loads((Path(model_dir) / "model.json").read_text())


def predict_fn(data, model):
    rows = data.tolist() if hasattr(data, "tolist") else data
    if rows and not isinstance(rows[0], list):  # a single row
        rows = [rows]
    weights, bias = model["weights"], model["bias"]
    if any(len(row) != len(weights) for row in rows):
        raise ValueError(f"each row needs {len(weights)} features")
    return [sum(w * x for w, x in zip(weights, row, strict=True)) + bias for row in rows]
