"""Distributed engines by name, imported only when chosen: process (one process), torchrun, mpi (OpenMPI).

`select_backend` reads the SageMaker SDK's `distribution=` hyperparameters; hosts outside the distribution
instance groups of a heterogeneous cluster always get `process`.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

from smtoolkit.config.engine import BACKEND_NAMES, EngineSettings
from smtoolkit.config.training import TrainingEnv
from smtoolkit.launch.backends.base import Backend, EngineInputs, EnginePlan, role_of
from smtoolkit.launch.entrypoint import EntryPoint

__all__ = ["BACKEND_NAMES", "EnginePlan", "EngineSettings", "build_engine_plan", "load_backend", "select_backend"]

_MODULES: dict[str, str] = {name: f"smtoolkit.launch.backends.{name}" for name in BACKEND_NAMES}
MPI_FLAGS = ("sagemaker_mpi_enabled",)
TORCHRUN_FLAGS = ("sagemaker_torch_distributed_enabled", "sagemaker_pytorch_ddp_enabled")


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in {"true", "1", "yes"}
    return bool(value)


def select_backend(env: TrainingEnv, settings: EngineSettings) -> str:
    """The operator's choice, else MPI, else torchrun by the hyperparameters, else a plain process."""
    if role_of(env) == "bystander":
        return "process"
    if settings.backend:
        return settings.backend
    params = env.framework_params
    if any(_truthy(params.get(flag)) for flag in MPI_FLAGS):
        return "mpi"
    if any(_truthy(params.get(flag)) for flag in TORCHRUN_FLAGS):
        return "torchrun"
    return "process"


def load_backend(name: str) -> Backend:
    backend: Backend = importlib.import_module(_MODULES[name]).BACKEND
    return backend


def build_engine_plan(
    env: TrainingEnv,
    entry: EntryPoint,
    args: list[str],
    job_env: Mapping[str, str],
    settings: EngineSettings,
    environ: Mapping[str, str],
) -> EnginePlan:
    inputs = EngineInputs(env, entry, args, job_env, settings, environ)
    return load_backend(select_backend(env, settings)).build(inputs)
