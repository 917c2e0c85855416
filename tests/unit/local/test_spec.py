"""Spec models, spec files and flags: what is accepted, how it is encoded, and errors that name the field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from smtoolkit.errors import ConfigError
from smtoolkit.local.cli.train_flags import TrainingFlags, apply_training_flags, parse_channel, sdk_encoded
from smtoolkit.local.spec.files import read_spec_file, resolve_processing_paths, resolve_training_paths, validated
from smtoolkit.local.spec.processing import ProcessingJobSpec
from smtoolkit.local.spec.training import TrainingJobSpec

CHANNEL = {"ChannelName": "train", "DataSource": {"S3DataSource": {"S3Uri": "s3://b/train"}}}


def _spec(**raw: object) -> TrainingJobSpec:
    return validated(TrainingJobSpec, dict(raw), "spec.json")[0]


def test_defaults_and_hosts() -> None:
    spec = _spec(InputDataConfig=[CHANNEL], ResourceConfig={"InstanceCount": 3})
    assert spec.training_job_name.startswith("local-training-")
    assert spec.hosts == ["algo-1", "algo-2", "algo-3"]
    assert spec.input_mode(spec.input_data_config[0]) == "File"


def test_instance_groups_number_hosts_across_groups() -> None:
    groups = [
        {"InstanceGroupName": "a", "InstanceType": "ml.c5.xlarge", "InstanceCount": 1},
        {"InstanceGroupName": "b", "InstanceCount": 2},
    ]
    spec = _spec(ResourceConfig={"InstanceGroups": groups})
    assert spec.host_groups == [("a", "ml.c5.xlarge", ["algo-1"]), ("b", "local", ["algo-2", "algo-3"])]


def test_non_string_hyperparameters_are_json_encoded() -> None:
    spec = _spec(HyperParameters={"epochs": 10, "flag": True, "layers": [1, 2], "name": '"x"'})
    assert spec.hyperparameters == {"epochs": "10", "flag": "true", "layers": "[1, 2]", "name": '"x"'}


@pytest.mark.parametrize(
    ("raw", "field", "text"),
    [
        ({"InputDataConfig": [{**CHANNEL, "ChannelName": "bad name"}]}, "InputDataConfig.0.ChannelName", "pattern"),
        ({"InputDataConfig": [{**CHANNEL, "CompressionType": "Gzip"}]}, None, "Pipe mode only"),
        ({"InputDataConfig": [CHANNEL, CHANNEL]}, None, "repeated: train"),
        ({"InputDataConfig": [{"ChannelName": "x", "DataSource": {}}]}, "InputDataConfig.0.DataSource", "exactly one"),
        ({"AlgorithmSpecification": {"MetricDefinitions": [{"Name": "m", "Regex": "("}]}}, "Regex", "regular expr"),
        ({"AlgorithmSpecification": {"TrainingInputMode": "Stream"}}, "TrainingInputMode", "'File'"),
        ({"TrainingJobName": "no_underscores"}, "TrainingJobName", "pattern"),
        ({"ResourceConfig": {"InstanceCount": 0}}, "InstanceCount", "greater than or equal"),
    ],
)
def test_bad_specs_name_the_field(raw: dict[str, object], field: str | None, text: str) -> None:
    with pytest.raises(ConfigError) as caught:
        validated(TrainingJobSpec, raw, "spec.json")
    message = str(caught.value)
    assert message.startswith("spec.json: ") and text in message
    if field:
        assert field in message


def test_fields_of_the_api_not_simulated_are_listed_and_unknown_names_refused() -> None:
    raw = {"RoleArn": "arn", "ResourceConfig": {"VolumeSizeInGB": 5}, "InputDataConfig": [CHANNEL]}
    assert validated(TrainingJobSpec, raw, "spec.json")[1] == ["RoleArn", "ResourceConfig.VolumeSizeInGB"]
    typo = {"InputDataConfig": [{**CHANNEL, "ContentTyp": "text/csv"}], "HyperParameter": {"a": "1"}}
    with pytest.raises(ConfigError) as caught:
        validated(TrainingJobSpec, typo, "spec.json")
    message = str(caught.value)
    assert "spec.json: InputDataConfig[0].ContentTyp: unknown field: the API has no such field (did you mean " in (
        message
    )
    assert "ContentType?)" in message
    assert "spec.json: HyperParameter: unknown field: the API has no such field (did you mean HyperParameters?)" in (
        message
    )


def test_spec_file_paths_resolve_against_its_directory(tmp_path: Path) -> None:
    raw = {
        "InputDataConfig": [{"ChannelName": "t", "DataSource": {"S3DataSource": {"S3Uri": "data/t"}}}, CHANNEL],
        "OutputDataConfig": {"S3OutputPath": "file://out"},
        "HyperParameters": {"sagemaker_submit_directory": '"code"'},
    }
    resolved = resolve_training_paths(raw, tmp_path)
    assert resolved["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3Uri"] == str(tmp_path / "data" / "t")
    assert resolved["InputDataConfig"][1] == CHANNEL
    assert resolved["OutputDataConfig"]["S3OutputPath"] == str(tmp_path / "out")
    assert json.loads(resolved["HyperParameters"]["sagemaker_submit_directory"]) == str(tmp_path / "code")
    assert raw["OutputDataConfig"] == {"S3OutputPath": "file://out"}  # the input is not changed


def test_read_spec_file_errors(tmp_path: Path) -> None:
    (tmp_path / "bad.json").write_text("{nope")
    (tmp_path / "list.json").write_text("[]")
    (tmp_path / "spec.yaml").write_text("a: 1")
    with pytest.raises(ConfigError, match="bad.json: is not valid JSON"):
        read_spec_file(tmp_path / "bad.json")
    with pytest.raises(ConfigError, match="expected a JSON object, got array"):
        read_spec_file(tmp_path / "list.json")
    with pytest.raises(ConfigError, match="cannot be read"):
        read_spec_file(tmp_path / "missing.json")
    try:
        import yaml  # type: ignore[import-untyped,import-not-found,unused-ignore]  # noqa: F401
    except ImportError:
        with pytest.raises(ConfigError, match="YAML specs need PyYAML"):
            read_spec_file(tmp_path / "spec.yaml")
    else:
        assert read_spec_file(tmp_path / "spec.yaml") == {"a": 1}


def test_sdk_encoding_of_flag_values() -> None:
    assert [sdk_encoded(v) for v in ("10", "0.5", "abc", "true", "[1,2]", '"q"')] == [
        "10",
        "0.5",
        '"abc"',
        "true",
        "[1, 2]",
        '"q"',
    ]


def test_channel_flag(tmp_path: Path) -> None:
    channel = parse_channel(
        "train=data,mode=Pipe,distribution=ShardedByS3Key,record-wrapper=RecordIO,shuffle-seed=3", tmp_path
    )
    assert channel == {
        "ChannelName": "train",
        "DataSource": {
            "S3DataSource": {
                "S3Uri": str(tmp_path / "data"),
                "S3DataType": "S3Prefix",
                "S3DataDistributionType": "ShardedByS3Key",
            }
        },
        "InputMode": "Pipe",
        "RecordWrapperType": "RecordIO",
        "ShuffleConfig": {"Seed": 3},
    }
    with pytest.raises(ConfigError, match="--channel train: unknown option 'speed'"):
        parse_channel("train=x,speed=2", tmp_path)
    with pytest.raises(ConfigError, match="--channel: expected KEY=VALUE"):
        parse_channel("train", tmp_path)


def test_flags_win_over_the_spec(tmp_path: Path) -> None:
    raw = {"HyperParameters": {"epochs": "1"}, "InputDataConfig": [CHANNEL]}
    flags = TrainingFlags(
        job_name="j",
        hyperparameters=["epochs=5"],
        channels=["train=s3://b/other"],
        input_mode="Pipe",
        instance_count=2,
        entry_point="t.py",
        source_dir="src",
        environment=["A=1"],
        checkpoint_uri="ck",
        output_path="s3://b/out",
        metrics=["loss=loss=(\\S+)"],
        max_run=60,
        cwd=tmp_path,
    )
    spec, _ = validated(TrainingJobSpec, apply_training_flags(raw, flags), "flags")
    assert spec.training_job_name == "j" and spec.hosts == ["algo-1", "algo-2"]
    assert spec.hyperparameters == {
        "epochs": "5",
        "sagemaker_program": '"t.py"',
        "sagemaker_submit_directory": json.dumps(str(tmp_path / "src")),
    }
    assert [c.data_source.uri for c in spec.input_data_config] == ["s3://b/other"]
    assert spec.algorithm_specification.training_input_mode == "Pipe"
    assert spec.algorithm_specification.metric_definitions[0].regex == "loss=(\\S+)"
    assert spec.environment == {"A": "1"} and spec.stopping_condition.max_runtime_in_seconds == 60
    assert spec.checkpoint_config is not None and spec.checkpoint_config.s3_uri == str(tmp_path / "ck")


PROCESSING_INPUT = {"InputName": "in", "S3Input": {"S3Uri": "data", "LocalPath": "/opt/ml/processing/in"}}
PROCESSING: dict[str, object] = {
    "AppSpecification": {"ContainerEntrypoint": ["python3", "/opt/ml/processing/input/code/p.py"]},
    "ProcessingInputs": [PROCESSING_INPUT],
    "ProcessingOutputConfig": {
        "Outputs": [{"OutputName": "out", "S3Output": {"S3Uri": "out", "LocalPath": "/opt/ml/processing/out"}}]
    },
}


def test_processing_spec(tmp_path: Path) -> None:
    spec, _ = validated(ProcessingJobSpec, resolve_processing_paths(PROCESSING, tmp_path), "p.json")
    assert spec.command == ["python3", "/opt/ml/processing/input/code/p.py"] and spec.hosts == ["algo-1"]
    assert spec.processing_inputs[0].s3_input.s3_uri == str(tmp_path / "data")
    assert spec.processing_output_config.outputs[0].s3_output.s3_upload_mode == "EndOfJob"


@pytest.mark.parametrize(
    ("change", "text"),
    [
        ({"AppSpecification": {}}, "AppSpecification.ContainerEntrypoint: required field is missing"),
        (
            {"ProcessingInputs": [{"InputName": "in", "S3Input": {"S3Uri": "d", "LocalPath": "/tmp/x"}}]},
            "must be an absolute path under /opt/ml/processing/",
        ),
        (
            {
                "ProcessingInputs": [
                    {
                        "InputName": "in",
                        "S3Input": {"S3Uri": "d", "LocalPath": "/opt/ml/processing/x", "S3InputMode": "Pipe"},
                    }
                ]
            },
            "S3InputMode",
        ),
        ({"ProcessingInputs": [PROCESSING_INPUT, PROCESSING_INPUT]}, "InputName values must be unique"),
    ],
)
def test_bad_processing_specs(change: dict[str, object], text: str) -> None:
    with pytest.raises(ConfigError, match="p.json") as caught:
        validated(ProcessingJobSpec, {**PROCESSING, **change}, "p.json")
    assert text in str(caught.value)
