"""A local transform job's spec: the CreateTransformJob request, plus the model it names (a `Model` object
shaped like the CreateModel request, since there is no model registry here).

    {"TransformJobName": "...", "ModelName": "...",
     "Model": {"PrimaryContainer": {"ModelDataUrl": "model.tar.gz",
                                    "Environment": {"SAGEMAKER_PROGRAM": "inference.py",
                                                    "SAGEMAKER_SUBMIT_DIRECTORY": "code"}}},
     "TransformInput": {...}, "TransformOutput": {...}, "BatchStrategy": ..., "Environment": {...}}

The transform fields (TransformInput, TransformOutput, BatchStrategy, MaxPayloadInMB, MaxConcurrentTransforms,
ModelClientConfig, DataProcessing, Environment) are validated by `smtoolkit.transform.request`; this model
validates the rest and lists the fields it does not simulate (DataCaptureConfig, Tags...).
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, Field, model_validator
from typing_extensions import Self

from smtoolkit.local.spec.base import JOB_NAME_PATTERN, ApiModel, default_job_name
from smtoolkit.local.spec.files import absolute_uri
from smtoolkit.paths import DEFAULT_BASE_DIR
from smtoolkit.transform.request import ClientConfigSpec, DataProcessingSpec, InputSpec, OutputSpec

REQUEST_FIELDS = (
    "TransformInput",
    "TransformOutput",
    "BatchStrategy",
    "MaxPayloadInMB",
    "MaxConcurrentTransforms",
    "ModelClientConfig",
    "DataProcessing",
    "Environment",
)
PROGRAM_VARIABLE = "SAGEMAKER_PROGRAM"
SUBMIT_DIRECTORY_VARIABLE = "SAGEMAKER_SUBMIT_DIRECTORY"


class ModelS3DataSource(ApiModel):
    API_ONLY: ClassVar[frozenset[str]] = frozenset(
        {"ModelAccessConfig", "HubAccessConfig", "ManifestS3Uri", "ETag", "ManifestEtag"}
    )
    s3_uri: str = Field(alias="S3Uri", min_length=1)
    s3_data_type: Literal["S3Prefix", "S3Object"] = Field(default="S3Prefix", alias="S3DataType")
    compression_type: Literal["None", "Gzip"] = Field(default="None", alias="CompressionType")


class ModelDataSource(ApiModel):
    s3_data_source: ModelS3DataSource = Field(alias="S3DataSource")


class ModelContainer(ApiModel):
    API_ONLY: ClassVar[frozenset[str]] = frozenset(
        {
            "ContainerHostname",
            "ImageConfig",
            "Mode",
            "AdditionalModelDataSources",
            "ModelPackageName",
            "InferenceSpecificationName",
            "MultiModelConfig",
        }
    )
    image: str | None = Field(default=None, alias="Image")
    model_data_url: str | None = Field(default=None, alias="ModelDataUrl", min_length=1)
    model_data_source: ModelDataSource | None = Field(default=None, alias="ModelDataSource")
    environment: dict[str, str] = Field(default_factory=dict, alias="Environment", max_length=100)

    @model_validator(mode="after")
    def _one_source(self) -> Self:
        if self.model_data_url is not None and self.model_data_source is not None:
            raise ValueError("give at most one of ModelDataUrl, ModelDataSource")
        return self


class ModelSpec(ApiModel):
    """CreateModel's request, as far as a local run uses it."""

    API_ONLY: ClassVar[frozenset[str]] = frozenset(
        {"Containers", "InferenceExecutionConfig", "ExecutionRoleArn", "Tags", "VpcConfig", "EnableNetworkIsolation"}
    )
    model_name: str | None = Field(default=None, alias="ModelName")
    primary_container: ModelContainer = Field(default_factory=ModelContainer, alias="PrimaryContainer")


class TransformResources(ApiModel):
    API_ONLY: ClassVar[frozenset[str]] = frozenset({"VolumeKmsKeyId", "TransformAmiVersion"})
    instance_type: str = Field(default="local", alias="InstanceType")
    instance_count: int = Field(default=1, alias="InstanceCount", ge=1)


class TransformJobSpec(ApiModel):
    API_NESTED: ClassVar[dict[str, type[BaseModel]]] = {
        "TransformInput": InputSpec,
        "TransformOutput": OutputSpec,
        "ModelClientConfig": ClientConfigSpec,
        "DataProcessing": DataProcessingSpec,
    }
    API_ONLY: ClassVar[frozenset[str]] = frozenset({"DataCaptureConfig", "Tags", "ExperimentConfig"})
    transform_job_name: str = Field(
        default_factory=lambda: default_job_name("local-transform"), alias="TransformJobName", pattern=JOB_NAME_PATTERN
    )
    model_name: str | None = Field(default=None, alias="ModelName")
    model: ModelSpec = Field(default_factory=ModelSpec, alias="Model")
    transform_resources: TransformResources = Field(default_factory=TransformResources, alias="TransformResources")
    # Validated by smtoolkit.transform.request.TransformRequest (see `request_fields`).
    transform_input: Any = Field(default=None, alias="TransformInput")
    transform_output: Any = Field(default=None, alias="TransformOutput")
    batch_strategy: Any = Field(default=None, alias="BatchStrategy")
    max_payload_in_mb: Any = Field(default=None, alias="MaxPayloadInMB")
    max_concurrent_transforms: Any = Field(default=None, alias="MaxConcurrentTransforms")
    model_client_config: Any = Field(default=None, alias="ModelClientConfig")
    data_processing: Any = Field(default=None, alias="DataProcessing")
    environment: Any = Field(default=None, alias="Environment")

    @property
    def container(self) -> ModelContainer:
        return self.model.primary_container

    @property
    def described_model_name(self) -> str:
        return self.model_name or self.model.model_name or f"{self.transform_job_name}-model"


def request_fields(raw: dict[str, Any]) -> dict[str, Any]:
    """The part of the spec that is a CreateTransformJob request for the transform runner."""
    return {key: raw[key] for key in REQUEST_FIELDS if key in raw and raw[key] is not None}


def _dig(raw: Any, *keys: str) -> Any:
    for key in keys:
        raw = raw.get(key) if isinstance(raw, dict) else None
    return raw


def _fix(container: Any, key: str, base: Path) -> None:
    if isinstance(container, dict) and isinstance(container.get(key), str) and container[key]:
        container[key] = absolute_uri(container[key], base)


def resolve_submit_directory(environment: Any, base: Path) -> None:
    """SAGEMAKER_SUBMIT_DIRECTORY made absolute, unless it is a platform path (/opt/ml/...), kept as it is."""
    value = environment.get(SUBMIT_DIRECTORY_VARIABLE) if isinstance(environment, dict) else None
    if isinstance(value, str) and value and not value.startswith(str(DEFAULT_BASE_DIR) + "/"):
        environment[SUBMIT_DIRECTORY_VARIABLE] = absolute_uri(value, base)


def resolve_transform_paths(raw: dict[str, Any], base: Path) -> dict[str, Any]:
    """A copy of the spec with its local paths absolute against `base`: the model data, the inference code
    (SAGEMAKER_SUBMIT_DIRECTORY, model's or job's Environment), the input and the output path."""
    raw = copy.deepcopy(raw)
    container = _dig(raw, "Model", "PrimaryContainer")
    _fix(container, "ModelDataUrl", base)
    _fix(_dig(container, "ModelDataSource", "S3DataSource"), "S3Uri", base)
    resolve_submit_directory(_dig(container, "Environment"), base)
    resolve_submit_directory(raw.get("Environment"), base)
    _fix(_dig(raw, "TransformInput", "DataSource", "S3DataSource"), "S3Uri", base)
    _fix(raw.get("TransformOutput"), "S3OutputPath", base)
    return raw
