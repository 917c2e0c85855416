"""The settings a transform job runs with, resolved once: request > /execution-parameters > defaults."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from smtoolkit.transform.request import (
    DataProcessingSpec,
    SplitTypeName,
    StrategyName,
    TransformRequest,
    normalise_strategy,
)

logger = logging.getLogger(__name__)

MEBIBYTE = 1024 * 1024
# The platform's defaults (API reference): MaxConcurrentTransforms 1, MaxPayloadInMB 6; BatchStrategy as SDK
# local mode defaults it (the platform's own default is not documented).
DEFAULT_CONCURRENCY = 1
DEFAULT_PAYLOAD_MB = 6
DEFAULT_STRATEGY: StrategyName = "MultiRecord"
SingleRecordFraming = Literal["framed", "payload"]


@dataclass(frozen=True)
class LocalOptions:
    """What smtoolkit adds to the API's fields (none of them exist on the platform)."""

    slice_end_inclusive: bool = True  # `$[1:4]` is columns 1..4, as the developer guide documents it
    single_record_framing: SingleRecordFraming = "framed"  # SingleRecord RecordIO/TFRecord: keep the header
    window: int | None = None  # batches produced ahead of the oldest unwritten one (default 2 x concurrency)


@dataclass(frozen=True)
class JobSettings:
    input_uri: str
    manifest: bool
    output_uri: str
    content_type: str | None
    accept: str | None
    gzip: bool
    split_type: SplitTypeName
    batch_strategy: StrategyName
    max_payload_mb: int
    concurrency: int
    assemble_lines: bool
    timeout_s: int
    max_retries: int
    data_processing: DataProcessingSpec
    local: LocalOptions = field(default_factory=LocalOptions)

    @property
    def max_payload_bytes(self) -> int | None:
        """The largest request body; None when MaxPayloadInMB is 0 (bodies are sent chunked, unbounded)."""
        return self.max_payload_mb * MEBIBYTE or None

    @property
    def window(self) -> int:
        return self.local.window or max(2, 2 * self.concurrency)

    def describe(self) -> dict[str, Any]:
        return {
            "input": self.input_uri + (" (manifest)" if self.manifest else ""),
            "output": self.output_uri,
            "ContentType": self.content_type,
            "Accept": self.accept,
            "CompressionType": "Gzip" if self.gzip else "None",
            "SplitType": self.split_type,
            "BatchStrategy": self.batch_strategy,
            "MaxPayloadInMB": self.max_payload_mb,
            "MaxConcurrentTransforms": self.concurrency,
            "AssembleWith": "Line" if self.assemble_lines else "None",
            "InvocationsTimeoutInSeconds": self.timeout_s,
            "InvocationsMaxRetries": self.max_retries,
            "DataProcessing": self.data_processing.model_dump(),
        }


def _from_server(parameters: Mapping[str, Any], name: str) -> Any:
    value = parameters.get(name)
    if name == "BatchStrategy":
        value = normalise_strategy(value)
        return value if value in ("MultiRecord", "SingleRecord") else None
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def resolve(
    request: TransformRequest, execution_parameters: Mapping[str, Any] | None, local: LocalOptions | None = None
) -> JobSettings:
    """The job's settings: each of BatchStrategy, MaxPayloadInMB and MaxConcurrentTransforms from the request,
    else from the server's /execution-parameters (values it gives in either spelling), else the default."""
    served = execution_parameters or {}
    for name in ("BatchStrategy", "MaxPayloadInMB", "MaxConcurrentTransforms"):
        if name in served and _from_server(served, name) is None:
            logger.warning("Ignoring /execution-parameters %s=%r: not a valid value", name, served[name])
    strategy = request.BatchStrategy or _from_server(served, "BatchStrategy") or DEFAULT_STRATEGY
    payload = request.MaxPayloadInMB
    if payload is None:
        payload = _from_server(served, "MaxPayloadInMB")
    concurrency = request.MaxConcurrentTransforms or _from_server(served, "MaxConcurrentTransforms")
    inputs, outputs = request.TransformInput, request.TransformOutput
    return JobSettings(
        input_uri=inputs.DataSource.S3DataSource.S3Uri,
        manifest=inputs.DataSource.S3DataSource.S3DataType == "ManifestFile",
        output_uri=outputs.S3OutputPath,
        content_type=inputs.ContentType,
        accept=outputs.Accept,
        gzip=inputs.CompressionType == "Gzip",
        split_type=inputs.SplitType,
        batch_strategy=strategy,
        max_payload_mb=DEFAULT_PAYLOAD_MB if payload is None else min(payload, 100),
        concurrency=concurrency or DEFAULT_CONCURRENCY,
        assemble_lines=outputs.AssembleWith == "Line",
        timeout_s=request.ModelClientConfig.InvocationsTimeoutInSeconds,
        max_retries=request.ModelClientConfig.InvocationsMaxRetries,
        data_processing=request.DataProcessing,
        local=local or LocalOptions(),
    )
