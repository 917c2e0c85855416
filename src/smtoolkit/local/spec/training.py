"""A local training job's spec: the CreateTrainingJob request, as the API spells it (the fields simulated here).

Fields the API has but a local run does not simulate (RoleArn, VpcConfig, Tags...: each model's `API_ONLY`) are
accepted and named in a warning; other names are errors (smtoolkit.config.apifields). Local paths may stand
wherever the API takes an S3 URI; `spec.files.resolve_training_paths` makes relative ones absolute first.
"""

from __future__ import annotations

import json
import re
from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator, model_validator
from typing_extensions import Self

from smtoolkit.config.channels import InputMode
from smtoolkit.local.spec.base import JOB_NAME_PATTERN, ApiModel, Distribution, StoppingCondition, default_job_name


class MetricDefinition(ApiModel):
    name: str = Field(alias="Name", min_length=1, max_length=255)
    regex: str = Field(alias="Regex", min_length=1, max_length=500)

    @field_validator("regex")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a valid regular expression: {exc}") from None
        return value


class AlgorithmSpecification(ApiModel):
    API_ONLY: ClassVar[frozenset[str]] = frozenset(
        {"AlgorithmName", "EnableSageMakerMetricsTimeSeries", "TrainingImageConfig"}
    )
    training_input_mode: InputMode = Field(default="File", alias="TrainingInputMode")
    training_image: str | None = Field(default=None, alias="TrainingImage")
    metric_definitions: list[MetricDefinition] = Field(default_factory=list, alias="MetricDefinitions", max_length=40)
    container_entrypoint: list[str] | None = Field(default=None, alias="ContainerEntrypoint", min_length=1)
    container_arguments: list[str] | None = Field(default=None, alias="ContainerArguments", min_length=1)


class S3DataSource(ApiModel):
    API_ONLY: ClassVar[frozenset[str]] = frozenset(
        {"AttributeNames", "InstanceGroupNames", "ModelAccessConfig", "HubAccessConfig"}
    )
    s3_uri: str = Field(alias="S3Uri", min_length=1)
    s3_data_type: Literal["S3Prefix"] = Field(default="S3Prefix", alias="S3DataType")
    s3_data_distribution_type: Distribution = Field(default="FullyReplicated", alias="S3DataDistributionType")


class FileDataSource(ApiModel):
    """The SDK's local-mode source (`FileUri`), accepted too."""

    file_uri: str = Field(alias="FileUri", min_length=1)
    file_data_distribution_type: Distribution = Field(default="FullyReplicated", alias="FileDataDistributionType")


class DataSource(ApiModel):
    API_ONLY: ClassVar[frozenset[str]] = frozenset({"FileSystemDataSource"})
    s3_data_source: S3DataSource | None = Field(default=None, alias="S3DataSource")
    file_data_source: FileDataSource | None = Field(default=None, alias="FileDataSource")

    @model_validator(mode="after")
    def _exactly_one(self) -> Self:
        if (self.s3_data_source is None) == (self.file_data_source is None):
            raise ValueError("expected exactly one of S3DataSource, FileDataSource")
        return self

    @property
    def uri(self) -> str:
        return self.s3_data_source.s3_uri if self.s3_data_source else self.file_data_source.file_uri  # type: ignore[union-attr]

    @property
    def distribution(self) -> Distribution:
        if self.s3_data_source:
            return self.s3_data_source.s3_data_distribution_type
        return self.file_data_source.file_data_distribution_type  # type: ignore[union-attr]


class ShuffleConfig(ApiModel):
    seed: int = Field(alias="Seed")


class TrainingChannel(ApiModel):
    channel_name: str = Field(alias="ChannelName", pattern=r"^[A-Za-z0-9\.\-_]{1,64}$")
    data_source: DataSource = Field(alias="DataSource")
    content_type: str | None = Field(default=None, alias="ContentType")
    compression_type: Literal["None", "Gzip"] = Field(default="None", alias="CompressionType")
    record_wrapper_type: Literal["None", "RecordIO"] = Field(default="None", alias="RecordWrapperType")
    input_mode: InputMode | None = Field(default=None, alias="InputMode")
    shuffle_config: ShuffleConfig | None = Field(default=None, alias="ShuffleConfig")


class OutputDataConfig(ApiModel):
    API_ONLY: ClassVar[frozenset[str]] = frozenset({"KmsKeyId", "CompressionType"})
    s3_output_path: str | None = Field(default=None, alias="S3OutputPath")


class InstanceGroupSpec(ApiModel):
    instance_group_name: str = Field(alias="InstanceGroupName", min_length=1)
    instance_type: str = Field(default="local", alias="InstanceType")
    instance_count: int = Field(alias="InstanceCount", ge=1)


class ResourceSpec(ApiModel):
    API_ONLY: ClassVar[frozenset[str]] = frozenset(
        {"VolumeSizeInGB", "VolumeKmsKeyId", "KeepAlivePeriodInSeconds", "TrainingPlanArn", "InstancePlacementConfig"}
    )
    instance_count: int = Field(default=1, alias="InstanceCount", ge=1, le=16)
    instance_type: str = Field(default="local", alias="InstanceType")
    instance_groups: list[InstanceGroupSpec] = Field(default_factory=list, alias="InstanceGroups")


class CheckpointSpec(ApiModel):
    s3_uri: str = Field(alias="S3Uri", min_length=1)
    local_path: str = Field(default="/opt/ml/checkpoints", alias="LocalPath")


class TrainingJobSpec(ApiModel):
    API_ONLY: ClassVar[frozenset[str]] = frozenset(
        {
            "RoleArn",
            "VpcConfig",
            "Tags",
            "EnableNetworkIsolation",
            "EnableInterContainerTrafficEncryption",
            "EnableManagedSpotTraining",
            "DebugHookConfig",
            "DebugRuleConfigurations",
            "TensorBoardOutputConfig",
            "ExperimentConfig",
            "ProfilerConfig",
            "ProfilerRuleConfigurations",
            "RetryStrategy",
            "RemoteDebugConfig",
            "InfraCheckConfig",
            "SessionChainingConfig",
        }
    )
    training_job_name: str = Field(
        default_factory=lambda: default_job_name("local-training"), alias="TrainingJobName", pattern=JOB_NAME_PATTERN
    )
    algorithm_specification: AlgorithmSpecification = Field(
        default_factory=AlgorithmSpecification, alias="AlgorithmSpecification"
    )
    hyperparameters: dict[str, str] = Field(default_factory=dict, alias="HyperParameters", max_length=100)
    input_data_config: list[TrainingChannel] = Field(default_factory=list, alias="InputDataConfig", max_length=20)
    output_data_config: OutputDataConfig = Field(default_factory=OutputDataConfig, alias="OutputDataConfig")
    resource_config: ResourceSpec = Field(default_factory=ResourceSpec, alias="ResourceConfig")
    checkpoint_config: CheckpointSpec | None = Field(default=None, alias="CheckpointConfig")
    environment: dict[str, str] = Field(default_factory=dict, alias="Environment", max_length=100)
    stopping_condition: StoppingCondition = Field(default_factory=StoppingCondition, alias="StoppingCondition")

    @field_validator("hyperparameters", mode="before")
    @classmethod
    def _json_encode_non_strings(cls, value: Any) -> Any:
        """The API takes strings; a number, boolean, list or object is JSON-encoded as the SDK does."""
        if isinstance(value, dict):
            return {key: item if isinstance(item, str) else json.dumps(item) for key, item in value.items()}
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        names = [channel.channel_name for channel in self.input_data_config]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"channel names must be unique, repeated: {', '.join(duplicates)}")
        for channel in self.input_data_config:
            mode = self.input_mode(channel)
            if mode != "Pipe" and (channel.compression_type != "None" or channel.record_wrapper_type != "None"):
                raise ValueError(
                    f"channel {channel.channel_name!r}: CompressionType and RecordWrapperType apply to Pipe mode "
                    f"only; leave them unset or None for {mode} mode"
                )
        return self

    def input_mode(self, channel: TrainingChannel) -> InputMode:
        """The channel's own InputMode, else the job's TrainingInputMode."""
        return channel.input_mode or self.algorithm_specification.training_input_mode

    @property
    def host_groups(self) -> list[tuple[str, str, list[str]]]:
        """(group name, instance type, hosts) per instance group; hosts are algo-1..N across the groups."""
        resources = self.resource_config
        groups = resources.instance_groups or [
            InstanceGroupSpec(
                instance_group_name="homogeneousCluster",
                instance_type=resources.instance_type,
                instance_count=resources.instance_count,
            )
        ]
        result, number = [], 1
        for group in groups:
            hosts = [f"algo-{number + index}" for index in range(group.instance_count)]
            number += group.instance_count
            result.append((group.instance_group_name, group.instance_type, hosts))
        return result

    @property
    def hosts(self) -> list[str]:
        return [host for _, _, hosts in self.host_groups for host in hosts]
