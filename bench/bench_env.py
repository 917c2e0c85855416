"""`from smtoolkit import env; env.hyperparameters` vs sagemaker-training's Environment() on one job tree.

Also times the floor: a bare interpreter that imports pydantic and builds one model. Prints ratios.
Run: make bench (or .venv/bin/python -m bench.bench_env [runs]).
"""

from __future__ import annotations

import statistics
import sys
import tempfile
from pathlib import Path

from bench.common import base_environ, interleaved, summary, toolkit_python, write_job

OURS = "from smtoolkit import env; env.hyperparameters"
THEIRS = "from sagemaker_training.environment import Environment; Environment().hyperparameters"
FLOOR = "import pydantic\nclass M(pydantic.BaseModel):\n    lr: float = 0.1\nM()"


def main(runs: int = 15) -> dict[str, float]:
    toolkit = toolkit_python()
    with tempfile.TemporaryDirectory() as tmp:
        base = write_job(Path(tmp) / "opt" / "ml", {"lr": "0.1", "epochs": "10", "name": '"model"'}, "train.py")
        env = {**base_environ(), "SAGEMAKER_BASE_DIR": str(base)}
        times = interleaved(
            {
                "smtoolkit env.hyperparameters": ([sys.executable, "-c", OURS], env),
                "sagemaker-training Environment()": ([str(toolkit), "-c", THEIRS], env),
                "floor: python + one pydantic model": ([sys.executable, "-c", FLOOR], env),
            },
            runs,
        )
    medians = {name: statistics.median(values) for name, values in times.items()}
    for name, values in times.items():
        print(summary(name, values))
    ours, theirs, floor = medians.values()
    print(f"ratio smtoolkit / sagemaker-training: {ours / theirs:.2f}x   (goal <= 0.75x)")
    print(f"smtoolkit above the pydantic floor: {(ours - floor) * 1000:+.1f} ms   (goal <= +50 ms)")
    return {"ratio": ours / theirs, "above_floor_ms": (ours - floor) * 1000}


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 15)
