"""`smtoolkit local` on the command line: dry runs print the resolved request; bad input exits 2 naming it."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from smtoolkit.local.cli.group import local_group

local = local_group()

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


def test_train_dry_run_prints_the_plan_and_writes_nothing(tmp_path: Path) -> None:
    work = tmp_path / "work"
    argv = ["train", str(EXAMPLES / "train-job.json"), "--dry-run", "-H", "epochs=5", "--work-dir", str(work)]
    result = CliRunner().invoke(local, argv)
    assert result.exit_code == 0, result.output
    plan = json.loads(result.output)
    hyperparameters = plan["Files"][str(work / "algo-1" / "input" / "config" / "hyperparameters.json")]
    assert hyperparameters["epochs"] == "5"
    assert json.loads(hyperparameters["sagemaker_submit_directory"]) == str(EXAMPLES / "job" / "code")
    [host] = plan["Hosts"]
    assert host["Argv"][-3:] == ["-m", "smtoolkit", "train"] and host["Cwd"] == str(work / "algo-1")
    assert plan["Inputs"][0]["Source"] == str(EXAMPLES / "job" / "input" / "data" / "train")
    assert not work.exists()


def test_bad_flags_and_specs_exit_2_naming_the_problem(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(local, ["train", "--channel", "train=x,mode=Stream", "--dry-run"])
    assert result.exit_code == 2
    assert "error: the command line: InputDataConfig.0.InputMode: Input should be 'File', 'Pipe' or 'FastFile'" in (
        result.output
    )
    spec = tmp_path / "p.json"
    spec.write_text(json.dumps({"AppSpecification": {"ContainerArguments": ["x"]}}))
    result = runner.invoke(local, ["process", str(spec)])
    assert result.exit_code == 2 and "AppSpecification.ContainerEntrypoint: required field is missing" in result.output


def test_fields_not_simulated_are_warned_about_and_typos_refused(tmp_path: Path) -> None:
    spec = tmp_path / "t.json"
    spec.write_text(json.dumps({"RoleArn": "arn:aws:iam::1:role/x", "VpcConfig": {}}))
    result = CliRunner().invoke(local, ["train", str(spec), "--dry-run"])
    assert result.exit_code == 0
    assert f"warning: {spec}: RoleArn, VpcConfig are fields of the API not simulated locally; they have no " in (
        result.output
    )
    spec.write_text(json.dumps({"HyperParameter": {"epochs": 3}}))
    result = CliRunner().invoke(local, ["train", str(spec), "--dry-run"])
    assert result.exit_code == 2
    assert "HyperParameter: unknown field: the API has no such field (did you mean HyperParameters?)" in result.output
    process = tmp_path / "p.json"
    entrypoint = {"ContainerEntrypoint": ["true"], "ContainerArgs": ["x"]}
    process.write_text(json.dumps({"AppSpecification": entrypoint, "NetworkConfig": {}}))
    result = CliRunner().invoke(local, ["process", str(process), "--dry-run"])
    assert result.exit_code == 2
    assert "AppSpecification.ContainerArgs: unknown field: the API has no such field (did you mean Container" in (
        result.output
    )


def test_a_keyed_flag_given_twice_is_refused_naming_flag_and_key(tmp_path: Path) -> None:
    runner = CliRunner()
    cases = [
        (["train", "--channel", "train=a", "--channel", "train=b"], "--channel: train is given more than once"),
        (["train", "-H", "lr=1", "-H", "lr=2"], "--hyperparameter: lr is given more than once"),
        (["train", "-e", "A=1", "-e", "A=2"], "--env: A is given more than once"),
        (["train", "--metric", "m=a", "--metric", "m=b"], "--metric: m is given more than once"),
        (["train", "--channel", "train=a,mode=File,mode=Pipe"], "--channel train: mode is given more than once"),
        (["train", "--channel", "train=a,mdoe=File"], "unknown option 'mdoe' (did you mean mode?)"),
        (["transform", "-e", "A=1", "-e", "A=2", "--input", "x"], "--env: A is given more than once"),
    ]
    for argv, expected in cases:
        result = runner.invoke(local, [*argv, "--dry-run"])
        assert result.exit_code == 2, (argv, result.output)
        assert expected in result.output, (argv, result.output)
    spec = tmp_path / "p.json"
    spec.write_text(json.dumps({"AppSpecification": {"ContainerEntrypoint": ["true"]}}))
    result = runner.invoke(local, ["process", str(spec), "-e", "A=1", "-e", "A=2", "--dry-run"])
    assert result.exit_code == 2 and "--env: A is given more than once" in result.output


def test_dry_runs_mask_secret_looking_values(tmp_path: Path) -> None:
    runner = CliRunner()
    secrets = ["-e", "DB_PASSWORD=hunter2", "-H", "api_key=abc123"]
    result = runner.invoke(local, ["train", *secrets, "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "hunter2" not in result.output and "abc123" not in result.output
    assert '"DB_PASSWORD": "******"' in result.output and '"api_key": "******"' in result.output
    spec = tmp_path / "p.json"
    entrypoint = ["python3", str(spec), "--token=s3cr3t"]  # a script that exists: the dry run checks it
    spec.write_text(json.dumps({"AppSpecification": {"ContainerEntrypoint": entrypoint}}))
    result = runner.invoke(local, ["process", str(spec), "-e", "DB_PASSWORD=hunter2", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "hunter2" not in result.output and "s3cr3t" not in result.output
    result = runner.invoke(local, ["transform", "--input", str(tmp_path), "-e", "DB_PASSWORD=hunter2", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "hunter2" not in result.output and '"DB_PASSWORD": "******"' in result.output


def test_dry_runs_check_inputs_as_a_real_run_does_and_write_nothing(tmp_path: Path) -> None:
    runner, work = CliRunner(), tmp_path / "work"
    train = ["train", str(EXAMPLES / "train-job.json"), "--work-dir", str(work), "--dry-run"]
    result = runner.invoke(local, [*train, "--channel", f"train={tmp_path / 'nowhere'}"])
    assert result.exit_code == 2 and "--channel train (InputDataConfig): no such file or directory" in result.output
    transform = ["transform", "--work-dir", str(work), "--input", str(tmp_path), "--dry-run"]
    result = runner.invoke(local, [*transform, "--model-data", str(tmp_path / "model.tar.gz")])
    assert result.exit_code == 2 and "--model-data (Model.PrimaryContainer.ModelDataUrl): no such file" in result.output
    result = runner.invoke(local, ["transform", "--work-dir", str(work), "--input", str(tmp_path / "in"), "--dry-run"])
    assert result.exit_code == 2 and "--input (TransformInput.DataSource.S3DataSource.S3Uri)" in result.output
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    result = runner.invoke(local, [*train, "--output-path", str(blocker / "out")])
    assert result.exit_code == 0, result.output  # an output location is probed by writing: only a real run does
    assert not work.exists() and not (blocker.parent / "out").exists()
