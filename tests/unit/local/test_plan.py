"""Local jobs' plans, read without running anything: hosts' argv, variables and cwd, the trees' files, what is
staged and collected; the plan is what `--dry-run` prints and what execute runs."""

from __future__ import annotations

import json
import stat
import sys
from pathlib import Path

from smtoolkit.local.jobs.common import LocalRunSettings
from smtoolkit.local.jobs.plan import launches
from smtoolkit.local.jobs.processing_plan import plan_processing
from smtoolkit.local.jobs.training_plan import plan_training
from smtoolkit.local.spec.processing import ProcessingJobSpec
from smtoolkit.local.spec.training import TrainingJobSpec

TRAINING = {
    "TrainingJobName": "plan-me",
    "HyperParameters": {"api_key": "abc123"},
    "InputDataConfig": [{"ChannelName": "train", "DataSource": {"S3DataSource": {"S3Uri": "s3://b/train/"}}}],
    "ResourceConfig": {"InstanceCount": 2},
    "CheckpointConfig": {"S3Uri": "s3://b/ckpt/"},
    "OutputDataConfig": {"S3OutputPath": "s3://b/out"},
    "Environment": {"DB_PASSWORD": "hunter2", "MODE": "fast"},
}


def _training(**changes: object) -> TrainingJobSpec:
    return TrainingJobSpec.model_validate({**TRAINING, **changes})


def test_a_training_plan_names_each_hosts_argv_variables_files_inputs_and_outputs(tmp_path: Path) -> None:
    work = tmp_path / "work"
    environ = {"PATH": "/usr/bin", "SM_CURRENT_HOST": "stale"}
    plan = plan_training(_training(), LocalRunSettings(work, environ, hostnames="off"))
    first, second = plan.hosts
    assert first.argv == (sys.executable, "-m", "smtoolkit", "train") and first.cwd == work / "algo-1"
    assert first.env["SAGEMAKER_BASE_DIR"] == str(work / "algo-1") and first.env["MODE"] == "fast"
    assert first.env["SMTOOLKIT_MPI_LOCAL_DIR"] == str(work / ".mpi") and "PATH" not in first.env
    assert second.env["SAGEMAKER_BASE_DIR"] == str(work / "algo-2")
    checkpoint_file = work / "algo-2" / "input" / "config" / "checkpointconfig.json"
    assert plan.files[checkpoint_file] == {"LocalPath": str(work / "algo-2" / "checkpoints"), "S3Uri": "s3://b/ckpt/"}
    assert [(item.source, item.how) for item in plan.inputs[:2]] == [("s3://b/train/", "File, FullyReplicated")] * 2
    destinations = {item.destination for item in plan.outputs}
    assert {"s3://b/out/plan-me/output/model.tar.gz", "s3://b/ckpt/"} <= destinations
    assert not work.exists()  # planning writes nothing


def test_execute_gives_each_host_the_inherited_environment_without_job_variables_then_the_plans(
    tmp_path: Path,
) -> None:
    environ = {"PATH": "/usr/bin", "SM_CURRENT_HOST": "stale", "MODE": "slow"}
    plan = plan_training(_training(), LocalRunSettings(tmp_path / "work", environ))
    env = launches(plan, environ)[0].env
    assert env["PATH"] == "/usr/bin" and "SM_CURRENT_HOST" not in env and env["MODE"] == "fast"


def test_the_printed_plan_masks_secrets() -> None:
    text = plan_training(_training(), LocalRunSettings(Path("w"), {})).text()
    assert "hunter2" not in text and "abc123" not in text and '"DB_PASSWORD": "******"' in text


def test_a_container_plan_runs_docker_with_the_tree_at_opt_ml_and_variables_by_name(tmp_path: Path) -> None:
    """A `docker` on PATH that is never run: planning starts nothing (not even `docker version`)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    docker = bin_dir / "docker"
    docker.write_text("#!/bin/sh\nexit 1\n")
    docker.chmod(docker.stat().st_mode | stat.S_IXUSR)
    work = tmp_path / "work"
    settings = LocalRunSettings(work, {"PATH": str(bin_dir)}, image="img:1")
    plan = plan_training(_training(ResourceConfig={"InstanceCount": 1}), settings)
    [host] = plan.hosts
    assert host.argv[:3] == (str(docker), "run", "--rm") and host.argv[-2:] == ("img:1", "train")
    assert f"{work / 'algo-1'}:/opt/ml" in host.argv and host.argv[host.argv.index("-e") :][:2] == ("-e", "DB_PASSWORD")
    assert plan.network and plan.network in host.argv and host.stop_argv[:2] == (str(docker), "stop")
    checkpoint_file = work / "algo-1" / "input" / "config" / "checkpointconfig.json"
    assert plan.files[checkpoint_file]["LocalPath"] == "/opt/ml/checkpoints"
    assert json.loads(plan.text())["Runner"] == f"docker img:1 (network {plan.network})"


def test_a_processing_plan_points_opt_ml_arguments_at_each_hosts_tree(tmp_path: Path) -> None:
    spec = ProcessingJobSpec.model_validate(
        {
            "ProcessingJobName": "p",
            "AppSpecification": {
                "ContainerEntrypoint": ["python3", "p.py"],
                "ContainerArguments": ["--out", "/opt/ml/processing/out"],
            },
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
        }
    )
    work = tmp_path / "work"
    plan = plan_processing(spec, LocalRunSettings(work, {}, cwd=tmp_path))
    [host] = plan.hosts
    tree = work / "algo-1"
    assert host.argv == (
        sys.executable,
        "-m",
        "smtoolkit",
        "process",
        "--",
        sys.executable,
        "p.py",
        "--out",
        str(tree / "processing" / "out"),
    )
    assert host.cwd == tmp_path
    assert [(item.source, item.destination, item.how) for item in plan.outputs] == [
        (str(tree / "processing" / "out"), "s3://b/o", "out, Continuous")
    ]
    assert plan.inputs[0].destination == str(tree / "processing" / "in") and not work.exists()


def test_a_transform_plan_decides_the_server_and_execute_adds_only_the_port(tmp_path: Path) -> None:
    from smtoolkit.local.jobs.transform_plan import plan_transform
    from smtoolkit.local.spec.transform import TransformJobSpec
    from smtoolkit.transform.request import TransformRequest

    fields = {
        "TransformInput": {"DataSource": {"S3DataSource": {"S3Uri": "s3://b/in/"}}, "SplitType": "Line"},
        "TransformOutput": {"S3OutputPath": "s3://b/out/"},
        "MaxConcurrentTransforms": 2,
        "Environment": {"SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code", "API_KEY": "k"},
    }
    model = {"PrimaryContainer": {"ModelDataUrl": "s3://b/model.tar.gz", "Environment": {"MODE": "fast"}}}
    spec = TransformJobSpec.model_validate({"TransformJobName": "t", "Model": model, **fields})
    work = tmp_path / "work"
    environ = {"PATH": "/usr/bin", "SM_CURRENT_HOST": "stale"}
    plan = plan_transform(spec, TransformRequest.model_validate(fields), LocalRunSettings(work, environ), workers=3)
    assert plan.code is None  # the code comes with the model: nothing to fetch
    env = plan.server.env
    assert env["SAGEMAKER_SUBMIT_DIRECTORY"] == str(work / "algo-1" / "model" / "code")
    assert env["MODE"] == "fast" and env["SAGEMAKER_MODEL_SERVER_WORKERS"] == "3" and "PATH" not in env
    assert env["SAGEMAKER_MAX_CONCURRENT_TRANSFORMS"] == "2" and plan.batches["MaxConcurrentTransforms"] == 2
    assert plan.model is not None and plan.model.destination == str(work / "algo-1" / "model")
    launched = plan.launch(8123, environ)
    assert launched.env["SAGEMAKER_BIND_TO_PORT"] == "8123" and launched.env["PATH"] == "/usr/bin"
    assert "SM_CURRENT_HOST" not in launched.env and '"API_KEY": "******"' in plan.text()
    assert not work.exists()
