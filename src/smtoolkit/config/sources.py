"""Settings sources for a job in one explicit order (first wins, merged key by key as pydantic-settings does):

1. keyword arguments given to TrainingEnv.load(...)
2. SM_* variables (what the launcher exported to the user's process; a user may set some by hand)
3. the code the job submitted: hyperparameters.json's sagemaker_program and sagemaker_submit_directory (what
   the SDK's script mode sends wins over what an image bakes in)
4. SAGEMAKER_* and platform variables (SAGEMAKER_PROGRAM, TRAINING_JOB_NAME, AWS_REGION, ...)
5. the job's other files under the base dir (hyperparameters.json, inputdataconfig.json, resourceconfig.json, ...)
6. the defaults of TrainingEnv

They follow pydantic-settings' source protocol (a callable returning field values) without importing
pydantic_settings: that import costs ~30 ms (it pulls in asyncio) in every user script that reads `env`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from smtoolkit.config.channels import ChannelConfig
from smtoolkit.config.files import parse_json_text, read_json_file, validate
from smtoolkit.config.hyperparameters import decode_hyperparameters, split_hyperparameters
from smtoolkit.config.processing import CheckpointConfig, ProcessingJobConfig
from smtoolkit.config.resources import ResourceConfig
from smtoolkit.errors import ConfigError, Problem
from smtoolkit.paths import JobPaths, base_dir_from

# SM_* variables holding one path each, and the TrainingEnv field they set.
SM_PATH_VARIABLES = {
    "SM_MODEL_DIR": "model_dir",
    "SM_INPUT_DIR": "input_dir",
    "SM_INPUT_CONFIG_DIR": "input_config_dir",
    "SM_OUTPUT_DIR": "output_dir",
    "SM_OUTPUT_DATA_DIR": "output_data_dir",
    "SM_OUTPUT_INTERMEDIATE_DIR": "output_intermediate_dir",
}
SM_PLAIN_VARIABLES = {
    "SM_USER_ENTRY_POINT": "user_entry_point",
    "SM_MODULE_DIR": "submit_directory",
    "SM_FRAMEWORK_MODULE": "framework_module",
    "SM_LOG_LEVEL": "log_level",
    "SM_NUM_CPUS": "reported_num_cpus",
    "SM_NUM_GPUS": "reported_num_gpus",
    "SM_NUM_NEURONS": "reported_num_neurons",
    "SM_MASTER_PORT": "master_port",
}
# What the SageMaker Python SDK v3 ModelTrainer's driver exports (its sm_training.env) for the job's code: the
# SourceCode's entry_script and its `code` channel. Ours (above) win when both are set.
MODEL_TRAINER_VARIABLES = {"SM_ENTRY_SCRIPT": "user_entry_point", "SM_SOURCE_DIR": "submit_directory"}
CHANNEL_PREFIX = "SM_CHANNEL_"
# The fields of the code a job submitted: they rank above the image's SAGEMAKER_PROGRAM/SAGEMAKER_SUBMIT_DIRECTORY.
SUBMITTED_CODE_FIELDS = ("user_entry_point", "submit_directory")
# host name -> address, for hosts whose names do not resolve (a local job's hosts, all on loopback).
HOST_ADDRESSES_VARIABLE = "SMTOOLKIT_HOST_ADDRESSES"


class Source(Protocol):
    def __call__(self) -> dict[str, Any]: ...


class InitSource:
    """Values given by the caller; the model-typed ones may be given as plain dicts."""

    def __init__(self, values: Mapping[str, Any]) -> None:
        self.values = {key: value for key, value in values.items() if value is not None}

    def __call__(self) -> dict[str, Any]:
        values = dict(self.values)
        for field, model in (
            ("resource_config", ResourceConfig),
            ("checkpoint_config", CheckpointConfig),
            ("processing_config", ProcessingJobConfig),
        ):
            if isinstance(values.get(field), Mapping):
                values[field] = validate(model, values[field], f"keyword {field}")
        if isinstance(values.get("input_data_config"), Mapping):
            problems: list[Problem] = []
            values["input_data_config"] = _channels(values["input_data_config"], "keyword input_data_config", problems)
            if problems:
                raise ConfigError(problems)
        return values


class _VariablesSource:
    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self.environ = os.environ if environ is None else environ


class SmVariablesSource(_VariablesSource):
    """SM_* variables, as the launcher (ours or sagemaker-training) exports them."""

    def __call__(self) -> dict[str, Any]:
        env = self.environ
        values: dict[str, Any] = {}
        problems: list[Problem] = []

        def json_var(name: str, expect: type = dict) -> Any:
            if name not in env:
                return None
            try:
                return parse_json_text(env[name], name, expect)
            except ConfigError as exc:
                problems.extend(exc.problems)
                return None

        if (hps := json_var("SM_HPS")) is not None:
            values["hyperparameters"] = hps
            values["hyperparameters_source"] = "SM_HPS"
        if (params := json_var("SM_FRAMEWORK_PARAMS")) is not None:
            values["framework_params"] = params
        if (resources := json_var("SM_RESOURCE_CONFIG")) is not None:
            values["resource_config"] = _validated(ResourceConfig, resources, "SM_RESOURCE_CONFIG", problems)
        elif "SM_CURRENT_HOST" in env:
            hosts = json_var("SM_HOSTS", list) or [env["SM_CURRENT_HOST"]]
            raw = {"current_host": env["SM_CURRENT_HOST"], "hosts": hosts}
            values["resource_config"] = _validated(ResourceConfig, raw, "SM_CURRENT_HOST/SM_HOSTS", problems)
        if (channels := json_var("SM_INPUT_DATA_CONFIG")) is not None:
            values["input_data_config"] = _channels(channels, "SM_INPUT_DATA_CONFIG", problems)
        if (training_env := json_var("SM_TRAINING_ENV")) is not None and training_env.get("job_name"):
            values["job_name"] = training_env["job_name"]
        channel_dirs = {
            name[len(CHANNEL_PREFIX) :].lower(): Path(path)
            for name, path in env.items()
            if name.startswith(CHANNEL_PREFIX) and path
        }
        if channel_dirs:
            values["channel_dirs"] = channel_dirs
        values.update({field: Path(env[var]) for var, field in SM_PATH_VARIABLES.items() if env.get(var)})
        values.update({field: env[var] for var, field in MODEL_TRAINER_VARIABLES.items() if env.get(var)})
        values.update({field: env[var] for var, field in SM_PLAIN_VARIABLES.items() if env.get(var)})
        if problems:
            raise ConfigError(problems)
        return values


class SageMakerVariablesSource(_VariablesSource):
    """SAGEMAKER_* settings and the platform's own variables."""

    def __call__(self) -> dict[str, Any]:
        env = self.environ
        values: dict[str, Any] = {"base_dir": base_dir_from(env)}
        for var, field in (
            ("SAGEMAKER_PROGRAM", "user_entry_point"),
            ("SAGEMAKER_SUBMIT_DIRECTORY", "submit_directory"),
            ("SAGEMAKER_TRAINING_MODULE", "framework_module"),
            ("SAGEMAKER_CONTAINER_LOG_LEVEL", "log_level"),
            ("TRAINING_JOB_NAME", "job_name"),
        ):
            if env.get(var):
                values[field] = env[var]
        region = env.get("AWS_REGION") or env.get("SAGEMAKER_REGION")
        if region:
            values["region"] = region
        if env.get(HOST_ADDRESSES_VARIABLE):
            values["host_addresses"] = host_addresses(env[HOST_ADDRESSES_VARIABLE])
        return values


def host_addresses(text: str) -> dict[str, str]:
    """SMTOOLKIT_HOST_ADDRESSES: a JSON object of host name -> address (an IP or a name that resolves)."""
    raw = parse_json_text(text, HOST_ADDRESSES_VARIABLE, dict)
    problems = [
        Problem(HOST_ADDRESSES_VARIABLE, f"expected a non-empty address string, got {address!r}", field=host)
        for host, address in raw.items()
        if not isinstance(address, str) or not address.strip()
    ]
    if problems:
        raise ConfigError(problems)
    return {host: address.strip() for host, address in raw.items()}


class JobFilesSource:
    """The JSON files the platform writes under the base dir."""

    def __init__(self, base_dir: Path) -> None:
        self.paths = JobPaths(base_dir)

    def __call__(self) -> dict[str, Any]:
        paths = self.paths
        values: dict[str, Any] = {}
        problems: list[Problem] = []
        for reader in (self._hyperparameters, self._channels, self._resources, self._extras):
            try:
                values.update(reader(paths))
            except ConfigError as exc:
                problems.extend(exc.problems)
        if problems:
            raise ConfigError(problems)
        return values

    def _hyperparameters(self, paths: JobPaths) -> dict[str, Any]:
        raw = read_json_file(paths.hyperparameters_file)
        if raw is None:
            return {}
        user, framework, reserved = split_hyperparameters(decode_hyperparameters(raw))
        values: dict[str, Any] = {
            "hyperparameters": user,
            "framework_params": framework,
            "reserved_hyperparameters": reserved,
            "hyperparameters_source": str(paths.hyperparameters_file),
        }
        for key, field in (
            ("sagemaker_program", "user_entry_point"),
            ("sagemaker_submit_directory", "submit_directory"),
            ("sagemaker_container_log_level", "log_level"),
            ("sagemaker_job_name", "job_name"),
            ("sagemaker_region", "region"),
        ):
            if reserved.get(key) not in (None, ""):
                values[field] = reserved[key]
        return values

    def _channels(self, paths: JobPaths) -> dict[str, Any]:
        raw = read_json_file(paths.input_data_config_file)
        if raw is None:
            return {}
        problems: list[Problem] = []
        channels = _channels(raw, str(paths.input_data_config_file), problems)
        if problems:
            raise ConfigError(problems)
        return {"input_data_config": channels}

    def _resources(self, paths: JobPaths) -> dict[str, Any]:
        for path in (paths.resource_config_file, paths.processing_resource_config_file):
            raw = read_json_file(path)
            if raw is not None:
                return {"resource_config": validate(ResourceConfig, raw, str(path))}
        return {}

    def _extras(self, paths: JobPaths) -> dict[str, Any]:
        values: dict[str, Any] = {}
        if (checkpoint := read_json_file(paths.checkpoint_config_file)) is not None:
            values["checkpoint_config"] = validate(CheckpointConfig, checkpoint, str(paths.checkpoint_config_file))
        if (processing := read_json_file(paths.processing_job_config_file)) is not None:
            source = str(paths.processing_job_config_file)
            values["processing_config"] = validate(ProcessingJobConfig, processing, source)
        return values


def _validated(model: Any, raw: Any, source: str, problems: list[Problem], prefix: str = "") -> Any:
    try:
        return validate(model, raw, source, prefix)
    except ConfigError as exc:
        problems.extend(exc.problems)
        return None


def _channels(raw: Mapping[str, Any], source: str, problems: list[Problem]) -> dict[str, ChannelConfig]:
    channels = {}
    for name, entry in raw.items():
        if not isinstance(entry, dict):
            problems.append(Problem(source, f"expected a JSON object, got {entry!r}", field=name))
        elif (channel := _validated(ChannelConfig, entry, source, problems, f"{name}.")) is not None:
            channels[name] = channel
    return channels


class StaticSource:
    """Values another source already read (the job files' submitted-code fields, given their own rank)."""

    def __init__(self, values: Mapping[str, Any]) -> None:
        self.values = dict(values)

    def __call__(self) -> dict[str, Any]:
        return dict(self.values)


def split_submitted_code(files: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the submitted-code fields, the rest) of what JobFilesSource read."""
    submitted = {field: files[field] for field in SUBMITTED_CODE_FIELDS if field in files}
    return submitted, {key: value for key, value in files.items() if key not in submitted}


def merge_sources(sources: Sequence[Source]) -> dict[str, Any]:
    """Call each source; earlier sources win, nested dicts are merged key by key."""
    merged: dict[str, Any] = {}
    for source in reversed(sources):
        _deep_update(merged, source())
    return merged


def _deep_update(target: dict[str, Any], update: Mapping[str, Any]) -> None:
    for key, value in update.items():
        if isinstance(value, Mapping) and isinstance(target.get(key), dict):
            _deep_update(target[key], value)
        else:
            target[key] = dict(value) if isinstance(value, dict) else value
