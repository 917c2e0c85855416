"""The CreateTransformJob request, as far as one machine can honour it: a typed, validated model.

A JSON file shaped like the API request and the command's flags (which win) are merged into one request;
fields left unset fall back to /execution-parameters, then to the platform's defaults (see settings.py).
Fields of the API that one machine does not simulate (TransformJobName, TransformResources, Tags...) are named in
a warning; a name the API does not have is an error naming the closest valid one (smtoolkit.config.apifields).
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from smtoolkit.config.apifields import not_simulated_warning, validate_request
from smtoolkit.config.batch import BatchStrategy, parse_batch_strategy
from smtoolkit.config.files import parse_json_text
from smtoolkit.errors import ConfigError

SplitTypeName = Literal["None", "Line", "RecordIO", "TFRecord"]
StrategyName = BatchStrategy
JSONPATH_MAX_LENGTH = 63
logger = logging.getLogger(__name__)


def normalise_strategy(value: object) -> object:
    """MultiRecord / SingleRecord from the API spelling or the env-var one (MULTI_RECORD); others unchanged."""
    if isinstance(value, str):
        return parse_batch_strategy(value) or value
    return value


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class S3DataSourceSpec(_Model):
    S3DataType: Literal["S3Prefix", "ManifestFile"] = "S3Prefix"
    S3Uri: str = Field(min_length=1)


class DataSourceSpec(_Model):
    S3DataSource: S3DataSourceSpec


class InputSpec(_Model):
    DataSource: DataSourceSpec
    ContentType: str | None = Field(None, max_length=256)
    CompressionType: Literal["None", "Gzip"] = "None"
    SplitType: SplitTypeName = "None"


class OutputSpec(_Model):
    API_ONLY: ClassVar[frozenset[str]] = frozenset({"KmsKeyId"})
    S3OutputPath: str = Field(min_length=1)
    Accept: str | None = Field(None, max_length=256)
    AssembleWith: Literal["None", "Line"] = "None"


class ClientConfigSpec(_Model):
    InvocationsTimeoutInSeconds: int = Field(600, ge=1, le=3600)
    InvocationsMaxRetries: int = Field(3, ge=0, le=3)


class DataProcessingSpec(_Model):
    InputFilter: str = Field("$", max_length=JSONPATH_MAX_LENGTH)
    JoinSource: Literal["None", "Input"] = "None"
    OutputFilter: str = Field("$", max_length=JSONPATH_MAX_LENGTH)

    @property
    def active(self) -> bool:
        return self.InputFilter != "$" or self.JoinSource != "None" or self.OutputFilter != "$"


class TransformRequest(_Model):
    API_ONLY: ClassVar[frozenset[str]] = frozenset(
        {"TransformJobName", "ModelName", "TransformResources", "DataCaptureConfig", "Tags", "ExperimentConfig"}
    )
    TransformInput: InputSpec
    TransformOutput: OutputSpec
    BatchStrategy: StrategyName | None = None
    MaxPayloadInMB: int | None = Field(None, ge=0, le=100)
    MaxConcurrentTransforms: int | None = Field(None, ge=0)
    ModelClientConfig: ClientConfigSpec = ClientConfigSpec()
    DataProcessing: DataProcessingSpec = DataProcessingSpec()
    Environment: dict[str, str] = Field(default_factory=dict, max_length=16)

    @field_validator("BatchStrategy", mode="before")
    @classmethod
    def _either_spelling(cls, value: object) -> object:
        return normalise_strategy(value)


def merge(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """`overrides` on top of `base`, objects merged key by key (neither is changed)."""
    merged = dict(base)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def load_request(text: str | None, source: str, flags: dict[str, Any]) -> TransformRequest:
    """The request from a JSON document (None: none given) with `flags` (same shape) on top."""
    document = parse_json_text(text, source) if text is not None else {}
    where = source if text is not None else "command line"
    request, not_simulated = validate_request(TransformRequest, merge(document, flags), where)
    if not_simulated:
        logger.warning("%s", not_simulated_warning(where, not_simulated).removeprefix("warning: "))
    check_request(request, where)
    return request


def check_request(request: TransformRequest, source: str) -> None:
    """The platform's cross-field rules; ConfigError naming each field that breaks one."""
    problems: list[tuple[str, str]] = []
    concurrency, payload = request.MaxConcurrentTransforms, request.MaxPayloadInMB
    if concurrency and payload and concurrency * payload > 100:
        problems.append(("MaxConcurrentTransforms", f"x MaxPayloadInMB is {concurrency * payload}; at most 100"))
    processing, inputs, outputs = request.DataProcessing, request.TransformInput, request.TransformOutput
    if processing.active:
        allowed = ("text/csv", "application/json", "application/jsonlines")
        for field, value in (
            ("TransformInput.ContentType", inputs.ContentType),
            ("TransformOutput.Accept", outputs.Accept),
        ):
            if value not in allowed:
                problems.append((field, f"must be one of {', '.join(allowed)} with DataProcessing (got {value!r})"))
        if inputs.ContentType == "text/csv" and (inputs.SplitType, outputs.AssembleWith) != ("Line", "Line"):
            problems.append(
                ("TransformInput.SplitType", "text/csv with DataProcessing needs SplitType and AssembleWith Line")
            )
        if processing.JoinSource == "Input":
            if outputs.Accept != inputs.ContentType:
                problems.append(
                    ("TransformOutput.Accept", "must equal TransformInput.ContentType with JoinSource=Input")
                )
            if outputs.AssembleWith != inputs.SplitType:
                problems.append(
                    ("TransformOutput.AssembleWith", "must equal TransformInput.SplitType with JoinSource=Input")
                )
        for field in ("InputFilter", "OutputFilter"):
            if not getattr(processing, field).startswith("$"):
                problems.append((f"DataProcessing.{field}", "a JSONPath must start with $"))
    if problems:
        raise ConfigError([ConfigError.single(source, message, field).problems[0] for field, message in problems])
