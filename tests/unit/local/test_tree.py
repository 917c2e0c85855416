"""The job tree and config files a local job writes for each host."""

from __future__ import annotations

import json
from pathlib import Path

from smtoolkit.config.training import TrainingEnv
from smtoolkit.local.platform.tree import (
    checkpoint_mount,
    host_paths,
    in_tree,
    make_tree,
    processing_tree,
    training_tree,
)
from smtoolkit.local.spec.processing import ProcessingJobSpec
from smtoolkit.local.spec.training import TrainingJobSpec


def _read(path: Path) -> object:
    return json.loads(path.read_text())


def test_training_tree_files(tmp_path: Path) -> None:
    spec = TrainingJobSpec.model_validate(
        {
            "HyperParameters": {"lr": "0.1", "sagemaker_program": '"train.py"'},
            "InputDataConfig": [
                {
                    "ChannelName": "train",
                    "ContentType": "text/csv",
                    "DataSource": {"S3DataSource": {"S3Uri": "s3://b/t", "S3DataDistributionType": "ShardedByS3Key"}},
                },
                {
                    "ChannelName": "eval",
                    "InputMode": "Pipe",
                    "RecordWrapperType": "RecordIO",
                    "CompressionType": "Gzip",
                    "DataSource": {"FileDataSource": {"FileUri": "/data/eval"}},
                },
            ],
            "ResourceConfig": {"InstanceCount": 2},
            "CheckpointConfig": {"S3Uri": "s3://b/ck/"},
        }
    )
    paths = host_paths(tmp_path, "algo-2")
    make_tree(*training_tree(spec, paths, "algo-2"))
    config = paths.input_config_dir
    assert _read(config / "hyperparameters.json") == {"lr": "0.1", "sagemaker_program": '"train.py"'}
    assert _read(config / "inputdataconfig.json") == {
        "train": {
            "ContentType": "text/csv",
            "TrainingInputMode": "File",
            "S3DistributionType": "ShardedByS3Key",
            "RecordWrapperType": "None",
        },
        "eval": {
            "TrainingInputMode": "Pipe",
            "S3DistributionType": "FullyReplicated",
            "RecordWrapperType": "RecordIO",
            "CompressionType": "Gzip",
        },
    }
    assert _read(config / "resourceconfig.json") == {
        "current_host": "algo-2",
        "current_instance_type": "local",
        "current_group_name": "homogeneousCluster",
        "hosts": ["algo-1", "algo-2"],
        "instance_groups": [
            {"instance_group_name": "homogeneousCluster", "instance_type": "local", "hosts": ["algo-1", "algo-2"]}
        ],
        "network_interface_name": "lo",
    }
    assert _read(config / "checkpointconfig.json") == {
        "LocalPath": str(paths.base / "checkpoints"),
        "S3Uri": "s3://b/ck/",
    }
    assert paths.model_dir.is_dir() and paths.output_data_dir.is_dir()
    env = TrainingEnv.load(base_dir=paths.base, environ={})  # the toolkit reads what was written
    assert env.current_host == "algo-2" and env.host_rank == 1 and env.channels["eval"].input_mode == "Pipe"
    assert env.checkpoint_config is not None and env.checkpoint_config.s3_uri == "s3://b/ck/"


def test_a_container_is_told_its_own_checkpoint_path(tmp_path: Path) -> None:
    """Under --image the container sees the host tree at /opt/ml: checkpointconfig.json names /opt/ml/checkpoints
    (the host's path would be lost in the container), and the folder the job mirrors is the one mounted there."""
    spec = TrainingJobSpec.model_validate({"CheckpointConfig": {"S3Uri": "s3://b/ck/"}})
    paths = host_paths(tmp_path, "algo-1")
    make_tree(*training_tree(spec, paths, "algo-1", in_container=True))
    assert _read(paths.checkpoint_config_file) == {"LocalPath": "/opt/ml/checkpoints", "S3Uri": "s3://b/ck/"}
    assert (paths.base / "checkpoints").is_dir() and checkpoint_mount(spec, paths) is None


def test_a_checkpoint_path_outside_opt_ml_is_mounted_into_the_container(tmp_path: Path) -> None:
    elsewhere = tmp_path / "ckpt"
    spec = TrainingJobSpec.model_validate({"CheckpointConfig": {"S3Uri": "s3://b/ck/", "LocalPath": str(elsewhere)}})
    paths = host_paths(tmp_path, "algo-1")
    make_tree(*training_tree(spec, paths, "algo-1", in_container=True))
    assert _read(paths.checkpoint_config_file) == {"LocalPath": str(elsewhere), "S3Uri": "s3://b/ck/"}
    assert checkpoint_mount(spec, paths) == (elsewhere, str(elsewhere))


def test_processing_tree_points_local_paths_into_the_host_tree(tmp_path: Path) -> None:
    spec = ProcessingJobSpec.model_validate(
        {
            "ProcessingJobName": "p",
            "AppSpecification": {"ContainerEntrypoint": ["python3", "x.py"]},
            "ProcessingInputs": [{"InputName": "in", "S3Input": {"S3Uri": "/d", "LocalPath": "/opt/ml/processing/in"}}],
            "ProcessingOutputConfig": {
                "Outputs": [
                    {
                        "OutputName": "out",
                        "S3Output": {
                            "S3Uri": "s3://b/o",
                            "LocalPath": "/opt/ml/processing/out",
                            "S3UploadMode": "Continuous",
                        },
                    }
                ]
            },
            "ProcessingResources": {"ClusterConfig": {"InstanceCount": 2}},
        }
    )
    paths = host_paths(tmp_path, "algo-1")
    make_tree(*processing_tree(spec, paths, "algo-1", "arn:x"))
    config = _read(paths.processing_job_config_file)
    assert isinstance(config, dict)
    assert config["ProcessingInputs"][0]["S3Input"]["LocalPath"] == str(paths.base / "processing" / "in")
    assert config["ProcessingInputs"][0]["S3Input"]["S3DownloadMode"] == "StartOfJob"
    assert config["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3UploadMode"] == "Continuous"
    assert config["ProcessingResources"]["ClusterConfig"]["InstanceCount"] == 2
    assert config["ProcessingJobArn"] == "arn:x" and config["AppSpecification"]["ImageUri"] == "local"
    assert _read(paths.processing_resource_config_file) == {"current_host": "algo-1", "hosts": ["algo-1", "algo-2"]}
    assert (paths.base / "processing" / "out").is_dir()
    env = TrainingEnv.load(base_dir=paths.base, environ={})
    assert env.processing is not None and env.processing.inputs["in"].local_path == paths.base / "processing" / "in"


def test_in_tree(tmp_path: Path) -> None:
    paths = host_paths(tmp_path, "algo-1")
    assert in_tree("/opt/ml/checkpoints", paths) == tmp_path / "algo-1" / "checkpoints"
    assert in_tree("/data/x", paths) == Path("/data/x")
    assert in_tree("/opt/mlx", paths) == Path("/opt/mlx")
