"""Command-line flags laid over a training spec (flags win). Relative paths are relative to the current directory.

- `--hyperparameter KEY=VALUE`: VALUE is read as JSON when it parses, else as a string, then JSON-encoded as the
  SDK's framework estimators send it (`epochs=10` -> "10", `name=abc` -> "\\"abc\\"", `flag=true` -> "true").
- `--channel NAME=URI[,mode=File|Pipe|FastFile][,distribution=FullyReplicated|ShardedByS3Key]
  [,content-type=TYPE][,record-wrapper=None|RecordIO][,compression=None|Gzip][,shuffle-seed=N]`
- `--entry-point FILE` and `--source-dir DIR` set `sagemaker_program` and `sagemaker_submit_directory`; without
  `--source-dir` (and none in the spec) the code is the entry point's folder, as with the SDK.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from smtoolkit.errors import ConfigError, did_you_mean
from smtoolkit.local.cli.pairs import refuse_repeated, split_pair, unique_pairs
from smtoolkit.local.spec.files import absolute_uri

CHANNEL_OPTIONS = {
    "mode": "InputMode",
    "distribution": "S3DataDistributionType",
    "content-type": "ContentType",
    "record-wrapper": "RecordWrapperType",
    "compression": "CompressionType",
    "shuffle-seed": "Seed",
}


@dataclass(frozen=True)
class TrainingFlags:
    job_name: str | None = None
    hyperparameters: Sequence[str] = ()
    channels: Sequence[str] = ()
    input_mode: str | None = None
    instance_count: int | None = None
    entry_point: str | None = None
    source_dir: str | None = None
    environment: Sequence[str] = ()
    checkpoint_uri: str | None = None
    output_path: str | None = None
    metrics: Sequence[str] = ()
    max_run: int | None = None
    cwd: Path = field(default_factory=Path.cwd)


def sdk_encoded(value: str) -> str:
    """What the SDK's framework estimators send for a value typed on the command line."""
    try:
        decoded: Any = json.loads(value)
    except ValueError:
        decoded = value
    return json.dumps(decoded)


def parse_channel(text: str, cwd: Path) -> dict[str, Any]:
    """One `--channel` flag as a CreateTrainingJob Channel."""
    first, *options = text.split(",")
    name, uri = split_pair(first, "--channel")
    source: dict[str, Any] = {"S3Uri": absolute_uri(uri, cwd), "S3DataType": "S3Prefix"}
    channel: dict[str, Any] = {"ChannelName": name, "DataSource": {"S3DataSource": source}}
    for key, value in unique_pairs(options, f"--channel {name}").items():
        if key not in CHANNEL_OPTIONS:
            raise ConfigError.single(
                f"--channel {name}",
                f"unknown option {key!r}{did_you_mean(key, CHANNEL_OPTIONS)}; expected one of "
                f"{', '.join(CHANNEL_OPTIONS)}",
            )
        api_name = CHANNEL_OPTIONS[key]
        if key == "distribution":
            source[api_name] = value
        elif key == "shuffle-seed":
            if not value.lstrip("-").isdigit():
                raise ConfigError.single(f"--channel {name}", f"shuffle-seed must be an integer, got {value!r}")
            channel["ShuffleConfig"] = {"Seed": int(value)}
        else:
            channel[api_name] = value
    return channel


def _apply_code_and_hyperparameters(raw: dict[str, Any], flags: TrainingFlags) -> None:
    hyperparameters = raw.setdefault("HyperParameters", {})
    for key, value in unique_pairs(flags.hyperparameters, "--hyperparameter").items():
        hyperparameters[key] = sdk_encoded(value)
    program, source_dir = flags.entry_point, flags.source_dir
    if program and not source_dir and "sagemaker_submit_directory" not in hyperparameters:
        source_dir, program = _entry_point_folder(program, flags.cwd)
    if program:
        hyperparameters["sagemaker_program"] = json.dumps(program)
    if source_dir:
        hyperparameters["sagemaker_submit_directory"] = json.dumps(absolute_uri(source_dir, flags.cwd))


def _entry_point_folder(entry_point: str, cwd: Path) -> tuple[str, str]:
    """(source dir, entry point) for `--entry-point` without `--source-dir`: the script's own folder, as the SDK
    does; ConfigError naming the flags when there is no such script."""
    script = cwd / entry_point
    if not script.is_file():
        raise ConfigError.single(
            "--entry-point",
            f"{entry_point}: no such file in {cwd}; give --source-dir DIR when the code is elsewhere",
        )
    return str(script.parent), script.name


def _apply_channels(raw: dict[str, Any], flags: TrainingFlags) -> None:
    channels = {item.get("ChannelName"): item for item in raw.get("InputDataConfig", []) if isinstance(item, dict)}
    given: set[str] = set()
    for text in flags.channels:
        channel = parse_channel(text, flags.cwd)
        name = channel["ChannelName"]
        refuse_repeated(name, name in given, "--channel")
        given.add(name)
        channels[name] = channel
    raw["InputDataConfig"] = list(channels.values())


def apply_training_flags(raw: dict[str, Any], flags: TrainingFlags) -> dict[str, Any]:
    """A copy of the CreateTrainingJob-shaped `raw` with the flags laid over it."""
    raw = copy.deepcopy(raw)
    if flags.job_name:
        raw["TrainingJobName"] = flags.job_name
    _apply_code_and_hyperparameters(raw, flags)
    if flags.channels:
        _apply_channels(raw, flags)
    algorithm = raw.setdefault("AlgorithmSpecification", {})
    if flags.input_mode:
        algorithm["TrainingInputMode"] = flags.input_mode
    for name, regex in unique_pairs(flags.metrics, "--metric").items():
        algorithm.setdefault("MetricDefinitions", []).append({"Name": name, "Regex": regex})
    if flags.instance_count is not None:
        raw.setdefault("ResourceConfig", {})["InstanceCount"] = flags.instance_count
    for key, value in unique_pairs(flags.environment, "--env").items():
        raw.setdefault("Environment", {})[key] = value
    if flags.checkpoint_uri:
        raw.setdefault("CheckpointConfig", {})["S3Uri"] = absolute_uri(flags.checkpoint_uri, flags.cwd)
    if flags.output_path:
        raw.setdefault("OutputDataConfig", {})["S3OutputPath"] = absolute_uri(flags.output_path, flags.cwd)
    if flags.max_run is not None:
        raw.setdefault("StoppingCondition", {})["MaxRuntimeInSeconds"] = flags.max_run
    return raw
