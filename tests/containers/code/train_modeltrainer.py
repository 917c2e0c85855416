"""Training script submitted by a SageMaker Python SDK v3 ModelTrainer: reads the job through smtoolkit's `env`,
writes what it saw as the model, or fails like user code when asked to."""

import json
import os
from pathlib import Path

from smtoolkit import env

if env.hyperparameters.get("fail"):
    raise ValueError("bad value: 42")
values = [float(cell) for path in sorted(env.channels["train"].path.glob("*.csv")) for cell in path.read_text().split()]
model = {
    "mean": env.hyperparameters["scale"] * sum(values) / len(values),
    "program": env.user_entry_point,
    "host": env.current_host,
    "launcher": os.environ.get("SM_USER_ENTRY_POINT"),  # exported by smtoolkit's launcher, not by the SDK's driver
}
Path(env.model_dir, "model.json").write_text(json.dumps(model))
