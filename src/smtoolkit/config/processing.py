"""processingjobconfig.json: a processing job's inputs and outputs by name."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

_FILE = ConfigDict(extra="allow", frozen=True, populate_by_name=True, defer_build=True)


class S3Input(BaseModel):
    model_config = _FILE

    local_path: Path = Field(alias="LocalPath")
    s3_uri: str | None = Field(default=None, alias="S3Uri")
    s3_data_type: Literal["S3Prefix", "ManifestFile"] = Field(default="S3Prefix", alias="S3DataType")
    s3_input_mode: Literal["File", "Pipe"] = Field(default="File", alias="S3InputMode")
    s3_data_distribution_type: Literal["FullyReplicated", "ShardedByS3Key"] = Field(
        default="FullyReplicated", alias="S3DataDistributionType"
    )
    s3_compression_type: Literal["None", "Gzip"] = Field(default="None", alias="S3CompressionType")


class ProcessingInput(BaseModel):
    model_config = _FILE

    input_name: str = Field(alias="InputName")
    app_managed: bool = Field(default=False, alias="AppManaged")
    s3_input: S3Input | None = Field(default=None, alias="S3Input")

    @property
    def local_path(self) -> Path | None:
        return self.s3_input.local_path if self.s3_input else None


class S3Output(BaseModel):
    model_config = _FILE

    local_path: Path = Field(alias="LocalPath")
    s3_uri: str | None = Field(default=None, alias="S3Uri")
    s3_upload_mode: Literal["EndOfJob", "Continuous"] = Field(default="EndOfJob", alias="S3UploadMode")


class ProcessingOutput(BaseModel):
    model_config = _FILE

    output_name: str = Field(alias="OutputName")
    app_managed: bool = Field(default=False, alias="AppManaged")
    s3_output: S3Output | None = Field(default=None, alias="S3Output")

    @property
    def local_path(self) -> Path | None:
        return self.s3_output.local_path if self.s3_output else None


class ProcessingOutputConfig(BaseModel):
    model_config = _FILE

    outputs: list[ProcessingOutput] = Field(default_factory=list, alias="Outputs")


class ProcessingJobConfig(BaseModel):
    """The platform's /opt/ml/config/processingjobconfig.json."""

    model_config = _FILE

    job_name: str | None = Field(default=None, alias="ProcessingJobName")
    job_arn: str | None = Field(default=None, alias="ProcessingJobArn")
    environment: dict[str, str] = Field(default_factory=dict, alias="Environment")
    app_specification: dict[str, Any] = Field(default_factory=dict, alias="AppSpecification")
    processing_inputs: list[ProcessingInput] = Field(default_factory=list, alias="ProcessingInputs")
    output_config: ProcessingOutputConfig = Field(
        default_factory=ProcessingOutputConfig, alias="ProcessingOutputConfig"
    )
    resources: dict[str, Any] = Field(default_factory=dict, alias="ProcessingResources")

    @property
    def inputs(self) -> dict[str, ProcessingInput]:
        return {item.input_name: item for item in self.processing_inputs}

    @property
    def outputs(self) -> dict[str, ProcessingOutput]:
        return {item.output_name: item for item in self.output_config.outputs}


class CheckpointConfig(BaseModel):
    """checkpointconfig.json, present only when the job has a CheckpointConfig."""

    model_config = _FILE

    local_path: Path = Field(default=Path("/opt/ml/checkpoints"), alias="LocalPath")
    s3_uri: str | None = Field(default=None, alias="S3Uri")
