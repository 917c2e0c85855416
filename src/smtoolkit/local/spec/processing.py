"""A local processing job's spec: the CreateProcessingJob request, as the API spells it (the fields simulated).

There is no image locally, so AppSpecification.ContainerEntrypoint is required: it is the command run under
`smtoolkit process`. Inputs are S3Prefix sources in File mode (local paths or s3://); Pipe mode is refused
because the platform's FIFO naming for processing jobs is undocumented.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, field_validator, model_validator
from typing_extensions import Self

from smtoolkit.local.spec.base import JOB_NAME_PATTERN, ApiModel, Distribution, StoppingCondition, default_job_name

PROCESSING_ROOT = "/opt/ml/processing/"


def _under_processing_root(value: str) -> str:
    if not value.startswith(PROCESSING_ROOT) or ".." in value.split("/"):
        raise ValueError(f"must be an absolute path under {PROCESSING_ROOT} without '..' (got {value!r})")
    return value.rstrip("/")


class AppSpecification(ApiModel):
    image_uri: str | None = Field(default=None, alias="ImageUri")
    container_entrypoint: list[str] = Field(alias="ContainerEntrypoint", min_length=1, max_length=100)
    container_arguments: list[str] | None = Field(default=None, alias="ContainerArguments", max_length=100)


class ProcessingS3Input(ApiModel):
    s3_uri: str = Field(alias="S3Uri", min_length=1)
    local_path: str = Field(alias="LocalPath")
    s3_data_type: Literal["S3Prefix"] = Field(default="S3Prefix", alias="S3DataType")
    s3_input_mode: Literal["File"] = Field(default="File", alias="S3InputMode")
    s3_data_distribution_type: Distribution = Field(default="FullyReplicated", alias="S3DataDistributionType")
    s3_compression_type: Literal["None"] = Field(default="None", alias="S3CompressionType")

    _local_path = field_validator("local_path")(_under_processing_root)


class ProcessingInputSpec(ApiModel):
    API_ONLY: ClassVar[frozenset[str]] = frozenset({"DatasetDefinition"})
    input_name: str = Field(alias="InputName", min_length=1)
    app_managed: Literal[False] = Field(default=False, alias="AppManaged")
    s3_input: ProcessingS3Input = Field(alias="S3Input")


class ProcessingS3Output(ApiModel):
    s3_uri: str = Field(alias="S3Uri", min_length=1)
    local_path: str = Field(alias="LocalPath")
    s3_upload_mode: Literal["EndOfJob", "Continuous"] = Field(default="EndOfJob", alias="S3UploadMode")

    _local_path = field_validator("local_path")(_under_processing_root)


class ProcessingOutputSpec(ApiModel):
    API_ONLY: ClassVar[frozenset[str]] = frozenset({"FeatureStoreOutput"})
    output_name: str = Field(alias="OutputName", min_length=1)
    app_managed: Literal[False] = Field(default=False, alias="AppManaged")
    s3_output: ProcessingS3Output = Field(alias="S3Output")


class ProcessingOutputConfig(ApiModel):
    outputs: list[ProcessingOutputSpec] = Field(default_factory=list, alias="Outputs", max_length=10)
    kms_key_id: str | None = Field(default=None, alias="KmsKeyId")


class ClusterConfig(ApiModel):
    API_ONLY: ClassVar[frozenset[str]] = frozenset({"VolumeKmsKeyId"})
    instance_count: int = Field(default=1, alias="InstanceCount", ge=1, le=16)
    instance_type: str = Field(default="local", alias="InstanceType")
    volume_size_in_gb: int = Field(default=30, alias="VolumeSizeInGB")


class ProcessingResources(ApiModel):
    cluster_config: ClusterConfig = Field(default_factory=ClusterConfig, alias="ClusterConfig")


class ProcessingJobSpec(ApiModel):
    API_ONLY: ClassVar[frozenset[str]] = frozenset({"NetworkConfig", "RoleArn", "Tags", "ExperimentConfig"})
    processing_job_name: str = Field(
        default_factory=lambda: default_job_name("local-processing"),
        alias="ProcessingJobName",
        pattern=JOB_NAME_PATTERN,
    )
    app_specification: AppSpecification = Field(alias="AppSpecification")
    environment: dict[str, str] = Field(default_factory=dict, alias="Environment", max_length=100)
    processing_inputs: list[ProcessingInputSpec] = Field(default_factory=list, alias="ProcessingInputs", max_length=10)
    processing_output_config: ProcessingOutputConfig = Field(
        default_factory=ProcessingOutputConfig, alias="ProcessingOutputConfig"
    )
    processing_resources: ProcessingResources = Field(default_factory=ProcessingResources, alias="ProcessingResources")
    stopping_condition: StoppingCondition = Field(default_factory=StoppingCondition, alias="StoppingCondition")

    @model_validator(mode="after")
    def _unique(self) -> Self:
        for kind, names in (
            ("InputName", [item.input_name for item in self.processing_inputs]),
            ("OutputName", [item.output_name for item in self.processing_output_config.outputs]),
        ):
            repeated = sorted({name for name in names if names.count(name) > 1})
            if repeated:
                raise ValueError(f"{kind} values must be unique, repeated: {', '.join(repeated)}")
        return self

    @property
    def hosts(self) -> list[str]:
        return [f"algo-{number}" for number in range(1, self.processing_resources.cluster_config.instance_count + 1)]

    @property
    def command(self) -> list[str]:
        return [*self.app_specification.container_entrypoint, *(self.app_specification.container_arguments or [])]
