"""Shared pieces of the benchmarks: the AWS toolkit in its own venv, a job tree, and a timer."""

from __future__ import annotations

import compileall
import functools
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
VENVS = BENCH_DIR / ".venvs"
AWS_TRAINING_TOOLKIT = "sagemaker-training==5.1.4"


def toolkit_python(requirement: str = AWS_TRAINING_TOOLKIT, name: str = "sagemaker-training") -> Path:
    """A venv with the AWS toolkit (made once, kept under bench/.venvs)."""
    venv = VENVS / name
    python = venv / "bin" / "python"
    marker = venv / ".installed"
    if not marker.exists() or marker.read_text() != requirement:
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", requirement], check=True)
        marker.write_text(requirement)
    return python


def write_job(base: Path, hyperparameters: Mapping[str, str], program: str | None = None) -> Path:
    config = base / "input" / "config"
    config.mkdir(parents=True, exist_ok=True)
    for sub in ("model", "output/data", "code"):
        (base / sub).mkdir(parents=True, exist_ok=True)
    hps = dict(hyperparameters)
    if program:
        hps["sagemaker_program"] = json.dumps(program)
    (config / "hyperparameters.json").write_text(json.dumps(hps))
    (config / "inputdataconfig.json").write_text(
        json.dumps({"train": {"TrainingInputMode": "File", "S3DistributionType": "FullyReplicated"}})
    )
    (config / "resourceconfig.json").write_text(
        json.dumps(
            {
                "current_host": "algo-1",
                "hosts": ["algo-1"],
                "current_group_name": "homogeneousCluster",
                "instance_groups": [
                    {
                        "instance_group_name": "homogeneousCluster",
                        "instance_type": "local",
                        "hosts": ["algo-1"],
                    }
                ],
            }
        )
    )
    return base


def wall_times(argv: Sequence[str], env: Mapping[str, str], runs: int, cwd: Path | None = None) -> list[float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(
            list(argv), env=dict(env), cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        times.append(time.perf_counter() - start)
    return times


def interleaved(cases: Mapping[str, tuple[Sequence[str], Mapping[str, str]]], runs: int) -> dict[str, list[float]]:
    """Run each case once per round, round after round, so machine noise hits every case alike."""
    results: dict[str, list[float]] = {name: [] for name in cases}
    for argv, env in cases.values():  # warm the page cache once
        wall_times(argv, env, 1)
    for _ in range(runs):
        for name, (argv, env) in cases.items():
            results[name] += wall_times(argv, env, 1)
    return results


def summary(name: str, times: list[float]) -> str:
    return f"{name:<34} median {statistics.median(times) * 1000:7.1f} ms   min {min(times) * 1000:7.1f} ms"


def base_environ() -> dict[str, str]:
    """The environment benchmarked processes run in: this shell's job variables dropped, and smtoolkit's
    modules byte-compiled as `pip install` leaves them (the AWS toolkits' venvs have theirs). An editable install
    run with PYTHONDONTWRITEBYTECODE=1 would otherwise compile every module again on every start (~25 ms)."""
    _byte_compile_smtoolkit()
    drop = ("SM_", "SAGEMAKER_", "TRAINING_JOB")
    return {k: v for k, v in os.environ.items() if not k.startswith(drop)}


@functools.cache
def _byte_compile_smtoolkit() -> None:
    import smtoolkit

    compileall.compile_dir(Path(smtoolkit.__file__).parent, quiet=1)
