"""Command-line flags laid over a transform spec (flags win). Relative paths are relative to the current directory.

- `--model-data URI` is Model.PrimaryContainer.ModelDataUrl (a model.tar.gz, local or s3://, or a local model dir).
- `--entry-point FILE` and `--source-dir URI` set the model's SAGEMAKER_PROGRAM and SAGEMAKER_SUBMIT_DIRECTORY.
- `-e KEY=VALUE` adds to the job's Environment (which wins over the model's).
- The others are CreateTransformJob fields: `--input` (TransformInput...S3Uri), `--output-path`
  (TransformOutput.S3OutputPath), `--content-type`, `--accept`, `--split-type`, `--compression`,
  `--assemble-with`, `--batch-strategy`, `--max-payload-mb`, `--max-concurrent`, `--timeout`, `--max-retries`,
  `--input-filter`, `--join-source`, `--output-filter`.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from smtoolkit.local.cli.pairs import unique_pairs
from smtoolkit.local.spec.files import absolute_uri
from smtoolkit.local.spec.transform import PROGRAM_VARIABLE, SUBMIT_DIRECTORY_VARIABLE, resolve_submit_directory

# flag (the click parameter name) -> where it goes in the request
REQUEST_FLAGS = {
    "input_uri": "TransformInput.DataSource.S3DataSource.S3Uri",
    "content_type": "TransformInput.ContentType",
    "compression": "TransformInput.CompressionType",
    "split_type": "TransformInput.SplitType",
    "output_path": "TransformOutput.S3OutputPath",
    "accept": "TransformOutput.Accept",
    "assemble_with": "TransformOutput.AssembleWith",
    "batch_strategy": "BatchStrategy",
    "max_payload_mb": "MaxPayloadInMB",
    "max_concurrent": "MaxConcurrentTransforms",
    "timeout": "ModelClientConfig.InvocationsTimeoutInSeconds",
    "max_retries": "ModelClientConfig.InvocationsMaxRetries",
    "input_filter": "DataProcessing.InputFilter",
    "join_source": "DataProcessing.JoinSource",
    "output_filter": "DataProcessing.OutputFilter",
}
PATH_FLAGS = ("input_uri", "output_path")


def _put(raw: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, leaf = dotted.split(".")
    node = raw
    for parent in parents:
        child = node.get(parent)
        if not isinstance(child, dict):
            child = node[parent] = {}
        node = child
    node[leaf] = value


def apply_transform_flags(
    raw: dict[str, Any],
    flags: Mapping[str, Any],
    *,
    job_name: str | None = None,
    model_data: str | None = None,
    entry_point: str | None = None,
    source_dir: str | None = None,
    environment: Sequence[str] = (),
    cwd: Path | None = None,
) -> dict[str, Any]:
    """A copy of the spec with the flags given (not None) laid over it; `flags` holds REQUEST_FLAGS' keys."""
    raw = copy.deepcopy(raw)
    base = cwd or Path.cwd()
    if job_name:
        raw["TransformJobName"] = job_name
    for name, dotted in REQUEST_FLAGS.items():
        value = flags.get(name)
        if value is not None:
            _put(raw, dotted, absolute_uri(value, base) if name in PATH_FLAGS else value)
    if model_data:
        _put(raw, "Model.PrimaryContainer.ModelDataUrl", absolute_uri(model_data, base))
        raw["Model"]["PrimaryContainer"].pop("ModelDataSource", None)
    if entry_point:
        _put(raw, f"Model.PrimaryContainer.Environment.{PROGRAM_VARIABLE}", entry_point)
    if source_dir:
        _put(raw, f"Model.PrimaryContainer.Environment.{SUBMIT_DIRECTORY_VARIABLE}", source_dir)
        resolve_submit_directory(raw["Model"]["PrimaryContainer"]["Environment"], base)
    for key, value in unique_pairs(environment, "--env").items():
        if not isinstance(raw.get("Environment"), dict):
            raw["Environment"] = {}
        raw["Environment"][key] = value
    return raw
