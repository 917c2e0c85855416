"""`smtoolkit local ...` never loses what a job needs or a user wants: reused work dirs, checks before any work,
failed uploads, /opt/ml paths inside the job, and the interpreter user code runs under. Real subprocesses, real
namespaces (where they can be made), and the S3-compatible server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.s3server import S3Server

pytestmark = pytest.mark.integration

LOCAL = [sys.executable, "-m", "smtoolkit.local"]
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
TRAIN = """
from smtoolkit import env
(env.model_dir / "weights.txt").write_text("trained")
print("trained")
"""


def _run(
    args: list[str], cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*LOCAL, *args], env={**os.environ, **(env or {})}, cwd=cwd, capture_output=True, text=True, timeout=180
    )


def _described(work: Path) -> dict[str, Any]:
    result: dict[str, Any] = json.loads((work / "job.json").read_text())
    return result


def _code(tmp_path: Path, script: str = TRAIN) -> Path:
    code = tmp_path / "code"
    code.mkdir(exist_ok=True)
    (code / "train.py").write_text(script)
    return code


def test_jobs_in_one_work_dir_accumulate_and_a_model_trained_there_is_the_next_jobs_input(tmp_path: Path) -> None:
    code, work = _code(tmp_path), tmp_path / "work1"
    train = ["train", "--work-dir", str(work), "--entry-point", "train.py", "--source-dir", str(code)]
    for name in ("first", "second"):
        result = _run([*train, "--job-name", name])
        assert result.returncode == 0, result.stdout + result.stderr
    assert (
        "algo-1, algo-1.log, job.json (outputs under" in result.stderr
        and "removing the previous run's" in result.stderr
    )
    assert "already holds files" not in result.stderr  # each job has its own outputs
    again = _run([*train, "--job-name", "second"])
    assert again.returncode == 0 and "second/output already holds files: outputs of the same name are replaced" in (
        again.stderr
    )
    for name in ("first", "second"):
        assert (work / "output" / name / "output" / "model.tar.gz").is_file(), name
    model = work / "output" / "first" / "output" / "model.tar.gz"
    inputs = tmp_path / "in"
    inputs.mkdir()
    (inputs / "x.txt").write_text("row\n")
    code_dir = EXAMPLES / "job" / "code"
    transform = ["transform", "--work-dir", str(work), "--model-data", str(model), "--input", str(inputs)]
    transform += ["--source-dir", str(code_dir), "--entry-point", "inference.py", "--dry-run"]
    result = _run(transform)
    assert result.returncode == 0, result.stdout + result.stderr
    assert model.is_file()
    result = _run([*train, "--job-name", "third", "--channel", f"train={work / 'algo-1' / 'model'}"])
    assert result.returncode == 2
    assert "is an input of the job but lies in" in result.stderr and "algo-1" in result.stderr
    assert (work / "output" / "second" / "output" / "model.tar.gz").is_file()


def test_inputs_code_and_output_locations_are_checked_before_any_work(tmp_path: Path) -> None:
    code, work = _code(tmp_path), tmp_path / "work"
    blocker = tmp_path / "a-file"
    blocker.write_text("not a dir")
    train = ["train", "--work-dir", str(work), "--source-dir", str(code)]
    cases = [
        ([*train, "--entry-point", "trian.py"], "--entry-point (sagemaker_program): not found in"),
        ([*train, "--entry-point", "trian.py"], "(did you mean train.py?)"),
        (
            ["transform", "--work-dir", str(work), "--model-data", str(blocker), "--input", str(code)],
            "--model-data (Model.PrimaryContainer.ModelDataUrl): is not a tar archive",
        ),
        ([*train, "--entry-point", "train.py", "--channel", "train=nowhere"], "no such file or directory"),
        ([*train, "--entry-point", "train.py", "--output-path", str(blocker / "out")], "cannot write there"),
        (
            ["transform", "--work-dir", str(work), "--source-dir", str(code), "--entry-point", "train.py"]
            + ["--input", str(tmp_path / "missing")],
            "--input (TransformInput.DataSource.S3DataSource.S3Uri): no such file or directory",
        ),
        (
            ["transform", "--work-dir", str(work), "--input", str(code), "--output-path", str(blocker / "out")],
            "--output-path (TransformOutput.S3OutputPath): cannot write there",
        ),
    ]
    for argv, expected in cases:
        result = _run(argv)
        assert result.returncode == 2, (argv, result.stdout + result.stderr)
        assert expected in result.stderr, (argv, result.stderr)
        assert not work.exists(), argv
    spec = tmp_path / "p.json"
    spec.write_text(json.dumps({"AppSpecification": {"ContainerEntrypoint": ["python3", "preprocess.py"]}}))
    result = _run(["process", str(spec), "--work-dir", str(work)], cwd=tmp_path)
    assert result.returncode == 2 and "AppSpecification.ContainerEntrypoint: no such file or directory" in result.stderr


def test_an_entry_point_alone_runs_from_its_own_folder(tmp_path: Path) -> None:
    code, work = _code(tmp_path), tmp_path / "work"
    result = _run(["train", "--entry-point", "train.py", "--work-dir", str(work)], cwd=code)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "algo-1 | trained" in result.stdout
    result = _run(["train", "--entry-point", "tran.py", "--work-dir", str(work)], cwd=code)
    assert result.returncode == 2
    assert "--entry-point: tran.py: no such file in" in result.stderr and "--source-dir" in result.stderr


UPLOAD_BREAKER = """
import os
import boto3
from smtoolkit import env
(env.model_dir / "weights.txt").write_text("trained")
client = boto3.client("s3", endpoint_url=os.environ["S3_ENDPOINT_URL"])
client.delete_bucket(Bucket=os.environ["SMTOOLKIT_TEST_BUCKET"])  # the upload after the job will fail
"""


def test_a_failed_upload_keeps_the_packed_artifacts_and_fails_the_job_saying_where(
    tmp_path: Path, s3_server: S3Server, s3_env: dict[str, str]
) -> None:
    bucket, work = s3_env["SMTOOLKIT_TEST_BUCKET"], tmp_path / "work"
    code = _code(tmp_path, UPLOAD_BREAKER)
    train = ["train", "--work-dir", str(work), "--entry-point", "train.py", "--source-dir", str(code)]
    missing = _run([*train, "--output-path", "s3://no-such-bucket-smtk/out"], env=s3_env)
    assert missing.returncode == 2 and "bucket 'no-such-bucket-smtk' does not exist" in missing.stderr
    result = _run([*train, "--job-name", "upload", "--output-path", f"s3://{bucket}/out"], env=s3_env)
    assert result.returncode == 1, result.stdout + result.stderr
    kept = work / "output" / "upload" / "output"
    described = _described(work)
    assert described["TrainingJobStatus"] == "Failed" and described["LocalKeptArtifacts"] == str(kept)
    assert described["FailureReason"].startswith("ClientError: cannot upload")
    assert f"the packed artifacts are kept in {kept}" in described["FailureReason"]
    assert (kept / "model.tar.gz").is_file() and (kept / "output.tar.gz").is_file()
    assert f"kept here:       {kept}" in result.stdout


OPT_ML_SCRIPT = """
import sys
rows = open("/opt/ml/processing/input/data/rows.csv").read()
with open("/opt/ml/processing/output/result/count.txt", "w") as out:
    out.write(str(len(rows.splitlines())))
import smtoolkit  # the interpreter smtoolkit runs under, not the python3 first on PATH
print("ran under", sys.executable)
"""


def test_processing_code_uses_opt_ml_paths_and_smtoolkits_interpreter(tmp_path: Path) -> None:
    data, code, out = tmp_path / "data", tmp_path / "code", tmp_path / "out"
    data.mkdir()
    (data / "rows.csv").write_text("a\nb\nc\n")
    code.mkdir()
    (code / "count.py").write_text(OPT_ML_SCRIPT)
    decoy = tmp_path / "bin"
    decoy.mkdir()
    (decoy / "python3").write_text("#!/bin/sh\necho 'not this python' >&2\nexit 97\n")
    (decoy / "python3").chmod(0o755)
    spec = {
        "ProcessingJobName": "opt-ml",
        "AppSpecification": {"ContainerEntrypoint": ["python3", "/opt/ml/processing/input/code/count.py"]},
        "ProcessingInputs": [
            {"InputName": "data", "S3Input": {"S3Uri": str(data), "LocalPath": "/opt/ml/processing/input/data"}},
            {"InputName": "code", "S3Input": {"S3Uri": str(code), "LocalPath": "/opt/ml/processing/input/code"}},
        ],
        "ProcessingOutputConfig": {
            "Outputs": [
                {
                    "OutputName": "result",
                    "S3Output": {"S3Uri": str(out), "LocalPath": "/opt/ml/processing/output/result"},
                }
            ]
        },
    }
    spec_file = tmp_path / "p.json"
    spec_file.write_text(json.dumps(spec))
    env = {"PATH": f"{decoy}:{os.environ['PATH']}"}
    opt_before = sorted(path.name for path in Path("/opt").iterdir())
    for _ in range(2):  # twice in one work dir
        result = _run(["process", str(spec_file), "--work-dir", str(tmp_path / "work"), "--hostnames", "on"], env=env)
        assert result.returncode == 0, result.stdout + result.stderr
        assert f"ran under {sys.executable}" in result.stdout
        assert (out / "count.txt").read_text() == "3"
    assert sorted(path.name for path in Path("/opt").iterdir()) == opt_before


CHECKPOINT_BREAKER = """
import os
from pathlib import Path
from smtoolkit import env
Path(os.environ["CHECKPOINT_TARGET"]).write_text("a file where the checkpoint folder should be")
assert env.checkpoint_config is not None
(env.checkpoint_config.local_path / "step-1.pt").write_text("weights")
(env.model_dir / "weights.txt").write_text("trained")
"""


def test_checkpoints_that_could_not_be_uploaded_fail_the_job_saying_where_they_are(tmp_path: Path) -> None:
    code, work, target = _code(tmp_path, CHECKPOINT_BREAKER), tmp_path / "work", tmp_path / "ck"
    train = ["train", "--work-dir", str(work), "--entry-point", "train.py", "--source-dir", str(code)]
    result = _run([*train, "--checkpoint-uri", str(target), "-e", f"CHECKPOINT_TARGET={target}"])
    assert result.returncode == 1, result.stdout + result.stderr
    reason = _described(work)["FailureReason"]
    kept = work / "algo-1" / "checkpoints"
    assert f"ClientError: checkpoints: 1 file(s) could not be uploaded to {target}" in reason
    assert f"they are kept in {kept}" in reason and (kept / "step-1.pt").read_text() == "weights"


CONTINUOUS_BREAKER = """
import os
from pathlib import Path
target = Path(os.environ["OUTPUT_TARGET"])
target.rmdir() if target.is_dir() else None
target.write_text("a file where the output folder should be")
Path(os.environ["LOCAL_OUTPUT_DIR"]).joinpath("result.txt").write_text("42")
"""


def test_continuous_outputs_that_could_not_be_uploaded_fail_the_job_saying_where_they_are(tmp_path: Path) -> None:
    code, target, work = tmp_path / "code", tmp_path / "out", tmp_path / "work"
    code.mkdir()
    (code / "p.py").write_text(CONTINUOUS_BREAKER)
    spec = {
        "ProcessingJobName": "continuous",
        "AppSpecification": {"ContainerEntrypoint": ["python3", str(code / "p.py")]},
        "Environment": {"OUTPUT_TARGET": str(target), "LOCAL_OUTPUT_DIR": str(work / "algo-1" / "processing" / "o")},
        "ProcessingOutputConfig": {
            "Outputs": [
                {
                    "OutputName": "o",
                    "S3Output": {
                        "S3Uri": str(target),
                        "LocalPath": "/opt/ml/processing/o",
                        "S3UploadMode": "Continuous",
                    },
                }
            ]
        },
    }
    spec_file = tmp_path / "p.json"
    spec_file.write_text(json.dumps(spec))
    result = _run(["process", str(spec_file), "--work-dir", str(work), "--hostnames", "off"])
    assert result.returncode == 1, result.stdout + result.stderr
    reason = _described(work)["FailureReason"]
    kept = work / "algo-1" / "processing" / "o"
    assert f"output o: 1 file(s) could not be uploaded to {target}" in reason and f"kept in {kept}" in reason
    assert (kept / "result.txt").read_text() == "42"
