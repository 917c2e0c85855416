"""Reading a job spec file (JSON; YAML when PyYAML is installed) and making its local paths absolute.

Relative local paths in a spec file are relative to the file's directory: channel and input sources, the output
path, the checkpoint location, processing output destinations, and `sagemaker_submit_directory` (whose value is
JSON-encoded, as the SDK writes it). `s3://` URIs are left as they are; `file://` URIs become plain paths.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel

from smtoolkit.config.apifields import validate_request
from smtoolkit.config.files import parse_json_text
from smtoolkit.errors import ConfigError
from smtoolkit.storage import is_s3_uri, local_path

ModelT = TypeVar("ModelT", bound=BaseModel)
YAML_SUFFIXES = (".yaml", ".yml")


def read_spec_file(path: Path) -> dict[str, Any]:
    """The spec as a dict; ConfigError naming the file when it is missing, malformed or not an object."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError.single(str(path), f"cannot be read: {exc.strerror}") from None
    if path.suffix.lower() not in YAML_SUFFIXES:
        result: dict[str, Any] = parse_json_text(data, str(path))
        return result
    try:
        import yaml  # type: ignore[import-untyped,import-not-found,unused-ignore]
    except ImportError:
        raise ConfigError.single(
            str(path), "YAML specs need PyYAML (pip install pyyaml); or write the spec as JSON"
        ) from None
    try:
        value = yaml.safe_load(data)
    except yaml.YAMLError as exc:
        raise ConfigError.single(str(path), f"is not valid YAML: {exc}") from None
    if not isinstance(value, dict):
        raise ConfigError.single(str(path), f"expected a mapping at the top, got {type(value).__name__}")
    return value


def absolute_uri(uri: str, base: Path) -> str:
    """An s3:// URI unchanged; a local path (or file:// URI) made absolute against `base`."""
    if is_s3_uri(uri):
        return uri
    return str((base / local_path(uri)).resolve())


def _fix(container: Any, key: str, base: Path) -> None:
    if isinstance(container, dict) and isinstance(container.get(key), str):
        container[key] = absolute_uri(container[key], base)


def _items(raw: dict[str, Any], key: str) -> list[Any]:
    value = raw.get(key)
    return value if isinstance(value, list) else []


def resolve_training_paths(raw: dict[str, Any], base: Path) -> dict[str, Any]:
    """A copy of a CreateTrainingJob-shaped dict with its local paths absolute."""
    raw = copy.deepcopy(raw)
    for channel in _items(raw, "InputDataConfig"):
        source = channel.get("DataSource") if isinstance(channel, dict) else None
        if isinstance(source, dict):
            _fix(source.get("S3DataSource"), "S3Uri", base)
            _fix(source.get("FileDataSource"), "FileUri", base)
    _fix(raw.get("OutputDataConfig"), "S3OutputPath", base)
    _fix(raw.get("CheckpointConfig"), "S3Uri", base)
    hyperparameters = raw.get("HyperParameters")
    if isinstance(hyperparameters, dict) and isinstance(hyperparameters.get("sagemaker_submit_directory"), str):
        encoded = hyperparameters["sagemaker_submit_directory"]
        try:
            decoded = json.loads(encoded)
        except ValueError:
            decoded = encoded
        if isinstance(decoded, str):
            hyperparameters["sagemaker_submit_directory"] = json.dumps(absolute_uri(decoded, base))
    return raw


def resolve_processing_paths(raw: dict[str, Any], base: Path) -> dict[str, Any]:
    """A copy of a CreateProcessingJob-shaped dict with its local sources and destinations absolute."""
    raw = copy.deepcopy(raw)
    for item in _items(raw, "ProcessingInputs"):
        if isinstance(item, dict):
            _fix(item.get("S3Input"), "S3Uri", base)
    output_config = raw.get("ProcessingOutputConfig")
    for item in _items(output_config, "Outputs") if isinstance(output_config, dict) else []:
        if isinstance(item, dict):
            _fix(item.get("S3Output"), "S3Uri", base)
    return raw


def validated(model: type[ModelT], raw: dict[str, Any], source: str) -> tuple[ModelT, list[str]]:
    """The spec model and the fields of the API it has that are not simulated; ConfigError with one problem per
    wrong or unknown field (with the closest valid name), naming `source`."""
    return validate_request(model, raw, source)
