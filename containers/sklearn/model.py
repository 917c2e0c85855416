"""Train a random forest on CSV channels (label in the first column) and serve it.

`train` runs this file as a program: hyperparameters arrive as `--n-estimators 100 --max-depth 5`, data and
output paths as SM_* variables. `serve` imports it and calls model_fn; the toolkit's codecs decode text/csv,
application/json and application/x-npy into a numpy array and call the model's predict.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

import joblib
import numpy as np
from sklearn.ensemble import RandomForestClassifier

MODEL_FILE = "model.joblib"


def load_channel(directory: str) -> tuple[Any, Any]:
    """Every *.csv in the channel directory, stacked: (features, labels)."""
    files = sorted(Path(directory).glob("*.csv"))
    if not files:
        raise FileNotFoundError(f"no .csv files in channel directory {directory}")
    data = np.vstack([np.loadtxt(path, delimiter=",", ndmin=2) for path in files])
    return data[:, 1:], data[:, 0]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n-estimators", type=int, default=100)
    parser.add_argument("--max-depth", type=int, default=None)
    parser.add_argument("--random-state", type=int, default=0)
    args = parser.parse_args()

    features, labels = load_channel(os.environ["SM_CHANNEL_TRAIN"])
    model = RandomForestClassifier(
        n_estimators=args.n_estimators, max_depth=args.max_depth, random_state=args.random_state
    ).fit(features, labels)
    print(f"train:accuracy={model.score(features, labels):.4f};")  # a MetricDefinitions regex can pick this up
    if "SM_CHANNEL_VALIDATION" in os.environ:
        val_features, val_labels = load_channel(os.environ["SM_CHANNEL_VALIDATION"])
        print(f"validation:accuracy={model.score(val_features, val_labels):.4f};")
    joblib.dump(model, Path(os.environ["SM_MODEL_DIR"]) / MODEL_FILE)


def model_fn(model_dir: str) -> Any:
    """Called once by `serve` before the workers start; predict_fn defaults to model.predict."""
    return joblib.load(Path(model_dir) / MODEL_FILE)


if __name__ == "__main__":
    main()
