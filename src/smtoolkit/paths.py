"""Every /opt/ml path of the container contract, relative to one base directory."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

DEFAULT_BASE_DIR = Path("/opt/ml")
BASE_DIR_VARIABLE = "SAGEMAKER_BASE_DIR"


def base_dir_from(environ: Mapping[str, str] | None = None) -> Path:
    """SAGEMAKER_BASE_DIR when set (and not empty), else /opt/ml."""
    value = (os.environ if environ is None else environ).get(BASE_DIR_VARIABLE, "")
    return Path(value) if value else DEFAULT_BASE_DIR


@dataclass(frozen=True)
class JobPaths:
    """The job tree. Pure: nothing here creates or reads a file."""

    base: Path = DEFAULT_BASE_DIR

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> JobPaths:
        return cls(base_dir_from(environ))

    # code and model
    @property
    def code_dir(self) -> Path:
        return self.base / "code"

    @property
    def model_dir(self) -> Path:
        return self.base / "model"

    @property
    def model_code_dir(self) -> Path:
        """Where the SDK's repacked model.tar.gz keeps the inference code."""
        return self.model_dir / "code"

    # inputs
    @property
    def input_dir(self) -> Path:
        return self.base / "input"

    @property
    def input_config_dir(self) -> Path:
        return self.input_dir / "config"

    @property
    def input_data_dir(self) -> Path:
        return self.input_dir / "data"

    def channel_dir(self, name: str) -> Path:
        return self.input_data_dir / name

    @property
    def hyperparameters_file(self) -> Path:
        return self.input_config_dir / "hyperparameters.json"

    @property
    def input_data_config_file(self) -> Path:
        return self.input_config_dir / "inputdataconfig.json"

    @property
    def resource_config_file(self) -> Path:
        return self.input_config_dir / "resourceconfig.json"

    @property
    def checkpoint_config_file(self) -> Path:
        return self.input_config_dir / "checkpointconfig.json"

    @property
    def checkpoints_dir(self) -> Path:
        return self.base / "checkpoints"

    # processing jobs keep their config one level up
    @property
    def processing_config_dir(self) -> Path:
        return self.base / "config"

    @property
    def processing_job_config_file(self) -> Path:
        return self.processing_config_dir / "processingjobconfig.json"

    @property
    def processing_resource_config_file(self) -> Path:
        return self.processing_config_dir / "resourceconfig.json"

    @property
    def processing_dir(self) -> Path:
        return self.base / "processing"

    # outputs
    @property
    def output_dir(self) -> Path:
        return self.base / "output"

    @property
    def output_data_dir(self) -> Path:
        return self.output_dir / "data"

    @property
    def output_intermediate_dir(self) -> Path:
        return self.output_dir / "intermediate"

    @property
    def success_file(self) -> Path:
        return self.output_dir / "success"

    @property
    def failure_file(self) -> Path:
        return self.output_dir / "failure"

    @property
    def message_file(self) -> Path:
        """Processing jobs' exit message (first 1 KB becomes ExitMessage)."""
        return self.output_dir / "message"
