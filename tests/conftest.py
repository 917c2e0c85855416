"""Fixtures shared by every test: an isolated environment and job trees under tmp_path."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from smtoolkit.config.training import current_env

_JOB_VARIABLE_PREFIXES = (
    "SM_",
    "SAGEMAKER_",
    "TRAINING_JOB_",
    "AWS_REGION",
    "CURRENT_HOST",
    "CA_REPOSITORY_ARN",
    "AIP_",
)


@pytest.fixture(autouse=True)
def _isolated_environ() -> Iterator[None]:
    """Each test starts with no job variables and gets os.environ back as it was."""
    saved = dict(os.environ)
    for name in list(os.environ):
        if name.startswith(_JOB_VARIABLE_PREFIXES):
            del os.environ[name]
    current_env.cache_clear()
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)
        current_env.cache_clear()


JobTree = Callable[..., Path]


def write_job_tree(
    base: Path,
    hyperparameters: dict[str, Any] | None = None,
    channels: dict[str, dict[str, Any]] | None = None,
    resources: dict[str, Any] | None = None,
    **files: Any,
) -> Path:
    """Write a job tree's config files (values exactly as given) and return its base dir."""
    config = base / "input" / "config"
    config.mkdir(parents=True, exist_ok=True)
    (base / "output").mkdir(exist_ok=True)
    resources = resources or {"current_host": "algo-1", "hosts": ["algo-1"]}
    contents = {
        "hyperparameters.json": hyperparameters or {},
        "inputdataconfig.json": channels or {},
        "resourceconfig.json": resources,
        **{f"{name}.json": value for name, value in files.items()},
    }
    for name, value in contents.items():
        target = config / name
        target.write_text(value if isinstance(value, str) else json.dumps(value))
    return base


@pytest.fixture
def job_tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> JobTree:
    """Make a job tree under tmp_path and point SAGEMAKER_BASE_DIR at it."""

    def make(**kwargs: Any) -> Path:
        base = write_job_tree(tmp_path / "opt" / "ml", **kwargs)
        monkeypatch.setenv("SAGEMAKER_BASE_DIR", str(base))
        return base

    return make
