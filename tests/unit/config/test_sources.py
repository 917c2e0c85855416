"""The order of the sources, and each source on its own."""

from pathlib import Path
from typing import Any

import pytest

from smtoolkit.config.training import TrainingEnv, current_env


def test_files_alone(job_tree: Any) -> None:
    base = job_tree(
        hyperparameters={
            "lr": "0.1",
            "sagemaker_program": '"train.py"',
            "sagemaker_container_log_level": "10",
        },
        channels={"train": {"TrainingInputMode": "Pipe", "ContentType": "text/csv"}},
    )
    env = TrainingEnv.load()
    assert env.base_dir == base
    assert env.hyperparameters == {"lr": 0.1}
    assert env.user_entry_point == "train.py"
    assert env.log_level == 10
    assert env.channels["train"].path == base / "input" / "data" / "train"
    assert env.channels["train"].input_mode == "Pipe"
    assert env.channels["train"].pipe_path(1) == base / "input" / "data" / "train_1"
    assert env.hyperparameters_source == str(base / "input" / "config" / "hyperparameters.json")


def test_sagemaker_variables_win_over_files(job_tree: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    job_tree(hyperparameters={"sagemaker_container_log_level": "20"})
    monkeypatch.setenv("SAGEMAKER_PROGRAM", "b.py")
    monkeypatch.setenv("SAGEMAKER_CONTAINER_LOG_LEVEL", "WARNING")
    monkeypatch.setenv("SAGEMAKER_SUBMIT_DIRECTORY", "s3://b/k.tar.gz")
    env = TrainingEnv.load()
    assert (env.user_entry_point, env.log_level, env.submit_directory) == ("b.py", 30, "s3://b/k.tar.gz")


def test_submitted_code_wins_over_the_images_variables(job_tree: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Script mode in an image with ENV SAGEMAKER_SUBMIT_DIRECTORY/SAGEMAKER_PROGRAM: the job's code runs."""
    job_tree(hyperparameters={"sagemaker_program": '"a.py"', "sagemaker_submit_directory": '"/opt/ml/code"'})
    monkeypatch.setenv("SAGEMAKER_PROGRAM", "b.py")
    monkeypatch.setenv("SAGEMAKER_SUBMIT_DIRECTORY", "/opt/program")
    env = TrainingEnv.load()
    assert (env.user_entry_point, env.submit_directory) == ("a.py", "/opt/ml/code")
    monkeypatch.setenv("SM_USER_ENTRY_POINT", "c.py")  # explicit SM_* variables and keywords keep their rank
    assert TrainingEnv.load(submit_directory="/src").user_entry_point == "c.py"
    assert TrainingEnv.load(submit_directory="/src").submit_directory == "/src"


def test_sm_variables_win_over_sagemaker_variables_and_files(job_tree: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    job_tree(hyperparameters={"lr": "0.1", "epochs": "3"})
    monkeypatch.setenv("SAGEMAKER_PROGRAM", "b.py")
    monkeypatch.setenv("SM_USER_ENTRY_POINT", "c.py")
    monkeypatch.setenv("SM_LOG_LEVEL", '"40"')
    monkeypatch.setenv("SM_HPS", '{"lr": 0.5}')
    env = TrainingEnv.load()
    assert env.user_entry_point == "c.py"
    assert env.log_level == 40
    # sources merge key by key: SM_HPS overrides lr and keeps the file's epochs
    assert env.hyperparameters == {"lr": 0.5, "epochs": 3}
    assert env.hyperparameters_source == "SM_HPS"


def test_keyword_arguments_win_over_everything(job_tree: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    job_tree(hyperparameters={"lr": "0.1"})
    monkeypatch.setenv("SM_USER_ENTRY_POINT", "c.py")
    assert TrainingEnv.load(user_entry_point="d.py").user_entry_point == "d.py"


def test_sm_variables_alone_describe_a_job(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A script run by hand with a few SM_* variables, no job tree at all."""
    monkeypatch.setenv("SAGEMAKER_BASE_DIR", str(tmp_path / "none"))
    monkeypatch.setenv("SM_CHANNEL_TRAIN", str(tmp_path / "data"))
    monkeypatch.setenv("SM_MODEL_DIR", str(tmp_path / "model"))
    monkeypatch.setenv("SM_CURRENT_HOST", "algo-2")
    monkeypatch.setenv("SM_HOSTS", '["algo-1", "algo-2"]')
    monkeypatch.setenv("SM_NUM_GPUS", "4")
    env = TrainingEnv.load()
    assert env.channels["train"].path == tmp_path / "data"
    assert env.model_dir == tmp_path / "model"
    assert (env.current_host, env.host_rank, env.host_count, env.is_master) == ("algo-2", 1, 2, False)
    assert env.num_gpus == 4


def test_no_job_at_all_is_a_single_host_with_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SAGEMAKER_BASE_DIR", str(tmp_path / "absent"))
    env = TrainingEnv.load()
    assert (env.hyperparameters, env.channels, env.hosts, env.is_master) == ({}, {}, ["algo-1"], True)
    assert not (tmp_path / "absent").exists()


def test_region_and_job_name(job_tree: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    job_tree(hyperparameters={"sagemaker_region": '"us-west-2"', "sagemaker_job_name": '"hp-name"'})
    assert (TrainingEnv.load().region, TrainingEnv.load().job_name) == ("us-west-2", "hp-name")
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    monkeypatch.setenv("TRAINING_JOB_NAME", "platform-name")
    assert (TrainingEnv.load().region, TrainingEnv.load().job_name) == ("eu-west-1", "platform-name")


def test_processing_job(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "config"
    config.mkdir()
    (config / "resourceconfig.json").write_text('{"current_host": "algo-2", "hosts": ["algo-1", "algo-2"]}')
    (config / "processingjobconfig.json").write_text(
        """{"ProcessingJobName": "p1",
            "ProcessingInputs": [{"InputName": "input-1", "S3Input": {
              "LocalPath": "/opt/ml/processing/input/d",
              "S3Uri": "s3://b/p", "S3DataType": "S3Prefix", "S3InputMode": "File",
              "S3DataDistributionType": "FullyReplicated", "S3CompressionType": "None",
              "S3DownloadMode": "StartOfJob"}}],
            "ProcessingOutputConfig": {"Outputs": [{"OutputName": "out", "S3Output": {
              "LocalPath": "/opt/ml/processing/output", "S3Uri": "s3://b/o", "S3UploadMode": "EndOfJob"}}],
              "KmsKeyId": null},
            "AppSpecification": {"ImageUri": "img", "ContainerEntrypoint": null}}"""
    )
    monkeypatch.setenv("SAGEMAKER_BASE_DIR", str(tmp_path))
    env = TrainingEnv.load()
    assert env.processing is not None
    assert env.processing.job_name == "p1"
    assert env.processing.inputs["input-1"].local_path == Path("/opt/ml/processing/input/d")
    assert env.processing.outputs["out"].local_path == Path("/opt/ml/processing/output")
    assert env.current_host == "algo-2"


def test_checkpoint_config(job_tree: Any) -> None:
    job_tree(checkpointconfig={"LocalPath": "/opt/ml/checkpoints", "S3Uri": "s3://b/ckpt/"})
    env = TrainingEnv.load()
    assert env.checkpoint_config is not None
    assert env.checkpoint_config.s3_uri == "s3://b/ckpt/"


def test_current_env_is_built_once(job_tree: Any) -> None:
    job_tree(hyperparameters={"lr": "0.1"})
    assert current_env() is current_env()


def test_sdk_v3_model_trainer_code_wins_over_the_images_program(job_tree: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The ModelTrainer driver's sm_training.env names the submitted code; an image's baked-in ENV ranks below it."""
    job_tree()
    monkeypatch.setenv("SAGEMAKER_PROGRAM", "baked.py")
    monkeypatch.setenv("SAGEMAKER_SUBMIT_DIRECTORY", "/opt/program")
    monkeypatch.setenv("SM_ENTRY_SCRIPT", "train.py")
    monkeypatch.setenv("SM_SOURCE_DIR", "/opt/ml/input/data/code")
    env = TrainingEnv.load()
    assert (env.user_entry_point, env.submit_directory) == ("train.py", "/opt/ml/input/data/code")
    monkeypatch.setenv("SM_ENTRY_SCRIPT", "")  # SourceCode(command=...) without entry_script
    assert TrainingEnv.load().user_entry_point == "baked.py"
    monkeypatch.setenv("SM_USER_ENTRY_POINT", "ours.py")  # what our launcher exports wins
    assert TrainingEnv.load().user_entry_point == "ours.py"


def test_a_missing_channel_names_the_channels_the_job_has(job_tree: Any) -> None:
    job_tree(channels={"training": {}, "validation": {}})
    channels = TrainingEnv.load().channels
    with pytest.raises(KeyError) as missing:  # still a KeyError, as code catching one expects
        channels["train"]
    assert str(missing.value) == (
        "the job has no channel 'train' (did you mean training?); its channels: training, validation "
        "(inputdataconfig.json, SM_CHANNEL_* variables)"
    )
    assert channels.get("train") is None and "training" in channels
