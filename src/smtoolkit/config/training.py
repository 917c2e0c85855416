"""TrainingEnv: the typed view of the running job, composed from the sources in sources.py."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, SkipValidation, field_validator, model_validator

from smtoolkit import hardware
from smtoolkit.config.channels import Channel, ChannelConfig, Channels
from smtoolkit.config.processing import CheckpointConfig, ProcessingJobConfig
from smtoolkit.config.resources import (
    ResourceConfig,
    distribution_hosts,
    distribution_instance_groups,
    master_hostname,
    ranked_hosts,
)
from smtoolkit.config.sources import (
    InitSource,
    JobFilesSource,
    SageMakerVariablesSource,
    SmVariablesSource,
    StaticSource,
    merge_sources,
    split_submitted_code,
)
from smtoolkit.levels import parse_log_level
from smtoolkit.paths import JobPaths, base_dir_from

DEFAULT_MASTER_PORT = 7777
# Fields whose default is the JobPaths property of the same name.
_PATH_FIELDS = (
    "model_dir",
    "input_dir",
    "input_config_dir",
    "output_dir",
    "output_data_dir",
    "output_intermediate_dir",
    "code_dir",
)


class TrainingEnv(BaseModel):
    """Everything a training (or processing) job's code needs to know, read once.

    `TrainingEnv.load()` builds it from keyword arguments, then SM_* variables, then SAGEMAKER_* variables,
    then the job's files (see smtoolkit.config.sources); nothing is created or written. Hardware counts are
    probed only when read.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    base_dir: Path = Field(default_factory=base_dir_from)
    model_dir: Path
    input_dir: Path
    input_config_dir: Path
    output_dir: Path
    output_data_dir: Path
    output_intermediate_dir: Path
    code_dir: Path

    hyperparameters: dict[str, Any] = Field(default_factory=dict)
    framework_params: dict[str, Any] = Field(default_factory=dict)
    reserved_hyperparameters: dict[str, Any] = Field(default_factory=dict)
    hyperparameters_source: str = "hyperparameters"

    # Validated by the source that read them (so errors name their file); not validated again here, which
    # also keeps their schemas unbuilt until a job has such a file.
    resource_config: Annotated[ResourceConfig, SkipValidation] = Field(default_factory=ResourceConfig.single_host)
    input_data_config: Annotated[dict[str, ChannelConfig], SkipValidation] = Field(default_factory=dict)
    checkpoint_config: Annotated[CheckpointConfig | None, SkipValidation] = None
    processing_config: Annotated[ProcessingJobConfig | None, SkipValidation] = None
    channel_dirs: dict[str, Path] = Field(default_factory=dict)

    user_entry_point: str | None = None
    submit_directory: str | None = None
    framework_module: str | None = None
    log_level: int = 20
    job_name: str | None = None
    region: str | None = None
    master_port: int = DEFAULT_MASTER_PORT
    # SMTOOLKIT_HOST_ADDRESSES: where hosts whose names do not resolve can be reached (a local job's hosts).
    host_addresses: dict[str, str] = Field(default_factory=dict)

    reported_num_cpus: int | None = None
    reported_num_gpus: int | None = None
    reported_num_neurons: int | None = None

    @classmethod
    def load(cls, base_dir: Path | None = None, environ: Mapping[str, str] | None = None, **values: Any) -> TrainingEnv:
        """Read the job: `values` win over SM_* variables, then the code the job submitted (hyperparameters.json's
        sagemaker_program/sagemaker_submit_directory), then SAGEMAKER_* variables, then the other files."""
        base = base_dir or base_dir_from(environ)
        submitted, files = split_submitted_code(JobFilesSource(base)())
        merged = merge_sources(
            [
                InitSource({**values, "base_dir": base_dir}),
                SmVariablesSource(environ),
                StaticSource(submitted),
                SageMakerVariablesSource(environ),
                StaticSource(files),
            ]
        )
        return cls.model_validate(merged)

    @model_validator(mode="before")
    @classmethod
    def _default_paths(cls, data: Any) -> Any:
        if isinstance(data, dict):
            paths = JobPaths(Path(data.get("base_dir") or base_dir_from()))
            for name in _PATH_FIELDS:
                data.setdefault(name, getattr(paths, name))
        return data

    @field_validator("log_level", mode="before")
    @classmethod
    def _log_level(cls, value: Any) -> int:
        return parse_log_level(value)

    # paths
    @property
    def paths(self) -> JobPaths:
        return JobPaths(self.base_dir)

    # entry point
    @property
    def module_name(self) -> str | None:
        """The entry point without a trailing .py (sagemaker-training's SM_MODULE_NAME)."""
        program = self.user_entry_point
        return program[: -len(".py")] if program and program.endswith(".py") else program

    @property
    def module_dir(self) -> str:
        return self.submit_directory or str(self.code_dir)

    # channels
    @cached_property
    def channels(self) -> Channels:
        """By name; a missing one raises a KeyError that names the channels the job has."""
        names = sorted(set(self.input_data_config) | set(self.channel_dirs))
        return Channels(
            (
                name,
                Channel(
                    name=name,
                    path=self.channel_dirs.get(name, self.input_dir / "data" / name),
                    config=self.input_data_config.get(name, ChannelConfig()),
                ),
            )
            for name in names
        )

    # hosts
    @property
    def current_host(self) -> str:
        return self.resource_config.current_host

    @property
    def hosts(self) -> list[str]:
        return list(self.resource_config.hosts)

    @cached_property
    def distribution_instance_groups(self) -> list[str]:
        return distribution_instance_groups(self.resource_config, self.framework_params)

    @cached_property
    def distribution_hosts(self) -> list[str]:
        return distribution_hosts(self.resource_config, self.distribution_instance_groups)

    @property
    def master_hostname(self) -> str:
        return master_hostname(self.resource_config, self.distribution_hosts)

    @property
    def master_addr(self) -> str:
        """Where the master host is reached: its address from SMTOOLKIT_HOST_ADDRESSES, else its name."""
        return self.address_of(self.master_hostname)

    def address_of(self, host: str) -> str:
        """A host's address from SMTOOLKIT_HOST_ADDRESSES, else the host name itself (resolved by DNS)."""
        return self.host_addresses.get(host, host)

    @property
    def is_master(self) -> bool:
        return self.current_host == self.master_hostname

    @property
    def host_rank(self) -> int:
        return ranked_hosts(self.resource_config, self.distribution_hosts).index(self.current_host)

    @property
    def host_count(self) -> int:
        return len(ranked_hosts(self.resource_config, self.distribution_hosts))

    @property
    def network_interface_name(self) -> str:
        return self.resource_config.network_interface_name

    @property
    def is_modelparallel_enabled(self) -> bool:
        return bool(self.hyperparameters.get("mp_parameters"))

    # hardware, probed once per process and only when read
    @property
    def num_cpus(self) -> int:
        return self.reported_num_cpus if self.reported_num_cpus is not None else hardware.num_cpus()

    @property
    def num_gpus(self) -> int:
        return self.reported_num_gpus if self.reported_num_gpus is not None else hardware.num_gpus()

    @property
    def num_neurons(self) -> int:
        return self.reported_num_neurons if self.reported_num_neurons is not None else hardware.num_neurons()

    # processing
    @property
    def processing(self) -> ProcessingJobConfig | None:
        return self.processing_config


@functools.cache
def current_env() -> TrainingEnv:
    """The running job's environment, built on first use and cached for the process."""
    return TrainingEnv.load()
