"""`local transform` specs: paths, flags, validation, the dry run and bad input on the command line."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from smtoolkit.errors import ConfigError
from smtoolkit.local.cli.group import local_group
from smtoolkit.local.cli.transform_flags import apply_transform_flags
from smtoolkit.local.spec.files import validated
from smtoolkit.local.spec.transform import TransformJobSpec, request_fields, resolve_transform_paths

local = local_group()

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


def _spec(**extra: Any) -> dict[str, Any]:
    return {
        "Model": {
            "PrimaryContainer": {
                "ModelDataUrl": "model/model.tar.gz",
                "Environment": {"SAGEMAKER_PROGRAM": "inference.py", "SAGEMAKER_SUBMIT_DIRECTORY": "code"},
            }
        },
        "TransformInput": {"DataSource": {"S3DataSource": {"S3Uri": "data"}}, "ContentType": "text/csv"},
        "TransformOutput": {"S3OutputPath": "s3://bucket/out"},
        **extra,
    }


def test_relative_paths_resolve_against_the_spec_dir_and_platform_paths_stay(tmp_path: Path) -> None:
    raw = _spec(Environment={"SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code"})
    resolved = resolve_transform_paths(raw, tmp_path)
    container = resolved["Model"]["PrimaryContainer"]
    assert container["ModelDataUrl"] == str(tmp_path / "model" / "model.tar.gz")
    assert container["Environment"]["SAGEMAKER_SUBMIT_DIRECTORY"] == str(tmp_path / "code")
    assert container["Environment"]["SAGEMAKER_PROGRAM"] == "inference.py"
    assert resolved["Environment"] == {"SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code"}
    assert resolved["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"] == str(tmp_path / "data")
    assert resolved["TransformOutput"]["S3OutputPath"] == "s3://bucket/out"
    assert raw["Model"]["PrimaryContainer"]["ModelDataUrl"] == "model/model.tar.gz"  # a copy


def test_flags_win_and_are_relative_to_the_current_dir(tmp_path: Path) -> None:
    raw = _spec()
    raw["Model"]["PrimaryContainer"]["ModelDataSource"] = {"S3DataSource": {"S3Uri": "s3://b/m/"}}
    flags = {"input_uri": "in.csv", "split_type": "Line", "max_payload_mb": 2, "join_source": None}
    result = apply_transform_flags(
        raw,
        flags,
        job_name="flagged",
        model_data="m.tar.gz",
        entry_point="serve.py",
        source_dir="src",
        environment=["A=1", "B.C=x=y"],
        cwd=tmp_path,
    )
    container = result["Model"]["PrimaryContainer"]
    assert container["ModelDataUrl"] == str(tmp_path / "m.tar.gz") and "ModelDataSource" not in container
    assert container["Environment"] == {
        "SAGEMAKER_PROGRAM": "serve.py",
        "SAGEMAKER_SUBMIT_DIRECTORY": str(tmp_path / "src"),
    }
    assert result["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"] == str(tmp_path / "in.csv")
    assert result["TransformInput"]["SplitType"] == "Line" and result["TransformInput"]["ContentType"] == "text/csv"
    assert result["MaxPayloadInMB"] == 2 and "DataProcessing" not in result
    assert result["Environment"] == {"A": "1", "B.C": "x=y"} and result["TransformJobName"] == "flagged"
    with pytest.raises(ConfigError, match="--env: expected KEY=VALUE"):
        apply_transform_flags(raw, {}, environment=["novalue"])


def test_spec_validation_names_the_fields() -> None:
    raw = _spec(TransformJobName="bad name!", TransformResources={"InstanceCount": 0})
    raw["Model"]["PrimaryContainer"]["ModelDataSource"] = {"S3DataSource": {"S3Uri": "s3://b/m/"}}
    with pytest.raises(ConfigError) as caught:
        validated(TransformJobSpec, raw, "t.json")
    text = str(caught.value)
    assert "t.json: TransformJobName: String should match pattern" in text
    assert "TransformResources.InstanceCount: Input should be greater than or equal to 1" in text
    assert "Model.PrimaryContainer: Value error, give at most one of ModelDataUrl, ModelDataSource" in text


def test_request_fields_are_the_create_transform_job_part() -> None:
    raw = _spec(BatchStrategy="SingleRecord", Tags=[], TransformJobName="j")
    assert sorted(request_fields(raw)) == ["BatchStrategy", "TransformInput", "TransformOutput"]
    spec, _ = validated(TransformJobSpec, raw, "t.json")
    assert spec.described_model_name == "j-model" and spec.container.model_data_url == "model/model.tar.gz"


def test_dry_run_prints_the_plan_with_the_default_output_and_writes_nothing(tmp_path: Path) -> None:
    work, model = tmp_path / "demo", tmp_path / "model.tar.gz"
    with tarfile.open(model, "w:gz"):
        pass
    argv = ["transform", str(EXAMPLES / "transform-job.json"), "--work-dir", str(work), "--model-data", str(model)]
    result = CliRunner().invoke(local, [*argv, "--dry-run"])
    assert result.exit_code == 0, result.output
    plan = json.loads(result.output)
    assert plan["Model"]["Source"] == str(model)
    assert plan["Model"]["Destination"] == str(work / "algo-1" / "model")
    assert plan["Code"]["Source"] == str(EXAMPLES / "job" / "code")
    server = plan["Server"]
    assert server["Argv"][-2:] == ["smtoolkit", "serve"] and server["Cwd"] == str(work / "algo-1")
    assert server["Env"]["SAGEMAKER_SUBMIT_DIRECTORY"] == str(work / "algo-1" / "code")
    assert server["Env"]["SAGEMAKER_BIND_TO_PORT"].startswith("chosen at start")
    assert plan["Inputs"][0]["Source"] == str(EXAMPLES / "data" / "holdout.csv")
    batches = plan["Batches"]
    assert batches["InvocationsTimeoutInSeconds"] == 600 and batches["InvocationsMaxRetries"] == 3
    assert batches["MaxPayloadInMB"] == 1 and batches["MaxConcurrentTransforms"].startswith("from the server's")
    assert not work.exists()
    spec = tmp_path / "t.json"
    (tmp_path / "data").mkdir()
    spec.write_text(json.dumps({"TransformInput": _spec()["TransformInput"], "DataCaptureConfig": {}}))
    result = CliRunner().invoke(local, ["transform", str(spec), "--work-dir", str(work), "--dry-run"])
    assert result.exit_code == 0, result.output
    assert f"warning: {spec}: DataCaptureConfig is a field of the API not simulated locally" in result.output
    printed = json.loads(result.output[result.output.index("{") :])
    job_name = printed["Job"].split()[-1]
    assert printed["Outputs"][0]["Destination"] == str(work.resolve() / "output" / job_name)
    assert printed["Model"].startswith("none:") and printed["Code"] is None


def test_bad_specs_and_flags_exit_2_naming_the_problem(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(local, ["transform", "--dry-run"])
    assert result.exit_code == 2 and "error: the command line: TransformInput: required field is missing" in (
        result.output
    )
    spec = tmp_path / "t.json"
    spec.write_text(json.dumps(_spec(BatchStrategy="Sometimes", MaxPayloadInMB=200)))
    result = runner.invoke(local, ["transform", str(spec)])
    assert result.exit_code == 2
    assert f"error: {spec}: BatchStrategy: Input should be 'MultiRecord' or 'SingleRecord'" in result.output
    assert f"error: {spec}: MaxPayloadInMB: Input should be less than or equal to 100" in result.output
    spec.write_text("{not json")
    result = runner.invoke(local, ["transform", str(spec)])
    assert result.exit_code == 2 and f"error: {spec}" in result.output
    result = runner.invoke(
        local, ["transform", "--input", "x", "--join-source", "Input", "--content-type", "image/png"]
    )
    assert result.exit_code == 2 and "TransformInput.ContentType: must be one of text/csv" in result.output


def test_misspelt_transform_fields_are_refused_with_the_closest_name(tmp_path: Path) -> None:
    spec = tmp_path / "t.json"
    raw = _spec()
    raw["TransformInput"]["SpltType"] = "Line"
    raw["TransformOutput"] = {"AssembleWIth": "Line"}
    raw["Model"] = {"PrimaryContainer": {"ModelDataUlr": "x"}}
    spec.write_text(json.dumps(raw))
    result = CliRunner().invoke(local, ["transform", str(spec), "--dry-run"])
    assert result.exit_code == 2, result.output
    for field, closest in (
        ("TransformInput.SpltType", "SplitType"),
        ("TransformOutput.AssembleWIth", "AssembleWith"),
        ("Model.PrimaryContainer.ModelDataUlr", "ModelDataUrl"),
    ):
        assert f"{field}: unknown field: the API has no such field (did you mean {closest}?)" in result.output
