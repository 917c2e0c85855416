"""The job tree of each host under the work dir (`<work dir>/<host>` is that host's /opt/ml) and the platform's
config files in it. Paths the platform puts under /opt/ml are written relative to the host's tree instead, so
nothing is ever written to /opt.

Hosts of a local job all run on this machine and talk over loopback: `network_interface_name` is `lo`, and
`HOST_ADDRESSES_VARIABLE` gives each host the address of every host (all 127.0.0.1), since the names algo-N do
not resolve here; the launcher reads it (TrainingEnv.host_addresses) for SM_MASTER_ADDR, torchrun's --master_addr,
the coordinator and its readiness waits.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from smtoolkit.local.spec.processing import ProcessingJobSpec
from smtoolkit.local.spec.training import TrainingJobSpec
from smtoolkit.paths import DEFAULT_BASE_DIR, JobPaths

NETWORK_INTERFACE = "lo"
LOOPBACK = "127.0.0.1"
HOST_ADDRESSES_VARIABLE = "SMTOOLKIT_HOST_ADDRESSES"  # read by smtoolkit.config.sources
ACCOUNT = "000000000000"


def host_paths(work_dir: Path, host: str) -> JobPaths:
    return JobPaths(work_dir / host)


def in_tree(platform_path: str, paths: JobPaths) -> Path:
    """`/opt/ml/x/y` -> `<host tree>/x/y`; other paths unchanged."""
    path = Path(platform_path)
    if path.is_relative_to(DEFAULT_BASE_DIR):
        return paths.base / path.relative_to(DEFAULT_BASE_DIR)
    return path


def job_arn(kind: str, name: str, environ: Mapping[str, str]) -> str:
    """The job's ARN, in the region AWS_REGION (else AWS_DEFAULT_REGION) names, `local` when neither is set."""
    region = environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION")
    return f"arn:aws:sagemaker:{region or 'local'}:{ACCOUNT}:{kind}/{name.lower()}"


def host_addresses(hosts: list[str]) -> str:
    return json.dumps(dict.fromkeys(hosts, LOOPBACK))


def resource_config(spec: TrainingJobSpec, host: str) -> dict[str, Any]:
    groups = spec.host_groups
    current_group, current_type = next((name, kind) for name, kind, hosts in groups if host in hosts)
    return {
        "current_host": host,
        "current_instance_type": current_type,
        "current_group_name": current_group,
        "hosts": sorted(spec.hosts),
        "instance_groups": [
            {"instance_group_name": name, "instance_type": kind, "hosts": hosts} for name, kind, hosts in groups
        ],
        "network_interface_name": NETWORK_INTERFACE,
    }


def input_data_config(spec: TrainingJobSpec) -> dict[str, Any]:
    """inputdataconfig.json: the platform's key names (`S3DistributionType`), ContentType only when set."""
    config: dict[str, Any] = {}
    for channel in spec.input_data_config:
        entry: dict[str, Any] = {}
        if channel.content_type is not None:
            entry["ContentType"] = channel.content_type
        entry["TrainingInputMode"] = spec.input_mode(channel)
        entry["S3DistributionType"] = channel.data_source.distribution
        entry["RecordWrapperType"] = channel.record_wrapper_type
        if channel.compression_type != "None":
            entry["CompressionType"] = channel.compression_type
        config[channel.channel_name] = entry
    return config


def checkpoint_mount(spec: TrainingJobSpec, paths: JobPaths) -> tuple[Path, str] | None:
    """(host folder, container path) of the checkpoint dir for a host run in a container (`--image`): the folder
    the job restores into and mirrors from, seen by the container at CheckpointConfig.LocalPath. None when the
    path is under /opt/ml, which the container already sees as the host's tree."""
    if spec.checkpoint_config is None:
        return None
    container_path = spec.checkpoint_config.local_path
    if Path(container_path).is_relative_to(DEFAULT_BASE_DIR):
        return None
    return in_tree(container_path, paths), container_path


def training_tree(
    spec: TrainingJobSpec, paths: JobPaths, host: str, *, in_container: bool = False
) -> tuple[list[Path], dict[Path, Any]]:
    """(the directories the platform creates before `train` starts, the config files with their JSON content) of
    one host. checkpointconfig.json's LocalPath is where the host's code sees the folder: the host tree's own path
    for a process, CheckpointConfig.LocalPath itself in a container (see `checkpoint_mount`)."""
    directories = [paths.input_data_dir, paths.model_dir, paths.output_data_dir, paths.code_dir]
    files: dict[Path, Any] = {
        paths.hyperparameters_file: spec.hyperparameters,
        paths.input_data_config_file: input_data_config(spec),
        paths.resource_config_file: resource_config(spec, host),
    }
    if spec.checkpoint_config is not None:
        local = in_tree(spec.checkpoint_config.local_path, paths)
        directories.append(local)
        seen = spec.checkpoint_config.local_path if in_container else str(local)
        files[paths.checkpoint_config_file] = {"LocalPath": seen, "S3Uri": spec.checkpoint_config.s3_uri}
    return directories, files


def processing_job_config(spec: ProcessingJobSpec, paths: JobPaths, arn: str) -> dict[str, Any]:
    """processingjobconfig.json as the platform writes it, LocalPaths pointing into the host's tree."""
    inputs = []
    for item in spec.processing_inputs:
        s3_input = item.s3_input.model_dump(by_alias=True, exclude_unset=False)
        s3_input["LocalPath"] = str(in_tree(item.s3_input.local_path, paths))
        inputs.append(
            {"InputName": item.input_name, "AppManaged": False, "S3Input": {**s3_input, "S3DownloadMode": "StartOfJob"}}
        )
    outputs = []
    for output in spec.processing_output_config.outputs:
        s3_output = output.s3_output.model_dump(by_alias=True)
        s3_output["LocalPath"] = str(in_tree(output.s3_output.local_path, paths))
        outputs.append({"OutputName": output.output_name, "AppManaged": False, "S3Output": s3_output})
    cluster = spec.processing_resources.cluster_config
    app = spec.app_specification
    return {
        "ProcessingJobArn": arn,
        "ProcessingJobName": spec.processing_job_name,
        "AppSpecification": {
            "ImageUri": app.image_uri or "local",
            "ContainerEntrypoint": app.container_entrypoint,
            "ContainerArguments": app.container_arguments,
        },
        "Environment": spec.environment,
        "ProcessingInputs": inputs,
        "ProcessingOutputConfig": {"Outputs": outputs, "KmsKeyId": spec.processing_output_config.kms_key_id},
        "ProcessingResources": {
            "ClusterConfig": {
                "InstanceCount": cluster.instance_count,
                "InstanceType": cluster.instance_type,
                "VolumeSizeInGB": cluster.volume_size_in_gb,
                "VolumeKmsKeyId": None,
            }
        },
        "RoleArn": "local",
        "StoppingCondition": {"MaxRuntimeInSeconds": spec.stopping_condition.max_runtime_in_seconds or 86400},
    }


def processing_tree(
    spec: ProcessingJobSpec, paths: JobPaths, host: str, arn: str
) -> tuple[list[Path], dict[Path, Any]]:
    """(every input and output directory, the config files with their JSON content) of one processing host."""
    config = processing_job_config(spec, paths, arn)
    directories = [Path(item["S3Input"]["LocalPath"]) for item in config["ProcessingInputs"]]
    directories += [Path(item["S3Output"]["LocalPath"]) for item in config["ProcessingOutputConfig"]["Outputs"]]
    directories.append(paths.output_dir)
    files = {
        paths.processing_job_config_file: config,
        paths.processing_resource_config_file: {"current_host": host, "hosts": spec.hosts},
    }
    return directories, files


def make_tree(directories: list[Path], files: dict[Path, Any]) -> None:
    """Create what `training_tree` or `processing_tree` names."""
    for directory in directories:
        directory.mkdir(parents=True, exist_ok=True)
    for path, content in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(content), encoding="utf-8")
