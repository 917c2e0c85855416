"""`smtoolkit local transform` end to end: the demo (trained, then transformed), a model and data on a real S3
server on loopback, failures, a bad spec, and a stop by SIGINT. Real `serve` processes on loopback ports."""

from __future__ import annotations

import io
import json
import os
import re
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path
from typing import Any

import psutil
import pytest

from tests.s3server import S3Server

pytestmark = pytest.mark.integration

LOCAL = [sys.executable, "-m", "smtoolkit.local"]
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
DEMO_MODEL = "demo-linear-regression/output/model.tar.gz"


def _run(args: list[str], extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **(extra_env or {})}
    return subprocess.run([*LOCAL, *args], env=env, capture_output=True, text=True, timeout=120)


def _described(work: Path) -> dict[str, Any]:
    result: dict[str, Any] = json.loads((work / "job.json").read_text())
    return result


def _server_pid(work: Path) -> int:
    """The gunicorn master's pid, from the server's log (`Listening at: http://127.0.0.1:PORT (PID)`)."""
    found = re.search(r"Listening at: \S+ \((\d+)\)", (work / "algo-1.log").read_text())
    assert found is not None
    return int(found.group(1))


def _tarball(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def test_demo_trained_then_transformed(tmp_path: Path) -> None:
    artifacts = tmp_path / "artifacts"
    trained = _run(
        [
            "train",
            str(EXAMPLES / "train-job.json"),
            "--work-dir",
            str(tmp_path / "train"),
            "--output-path",
            str(artifacts),
        ]
    )
    assert trained.returncode == 0, trained.stdout + trained.stderr
    work, predictions = tmp_path / "transform", tmp_path / "predictions"
    args = ["transform", str(EXAMPLES / "transform-job.json"), "--work-dir", str(work)]
    args += ["--model-data", str(artifacts / DEMO_MODEL), "--output-path", str(predictions), "--preview", "2"]
    result = _run(args)
    assert result.returncode == 0, result.stdout + result.stderr
    output = (predictions / "holdout.csv.out").read_text().splitlines()
    holdout = (EXAMPLES / "data" / "holdout.csv").read_text().splitlines()
    assert len(output) == len(holdout) == 20
    for row, joined in zip(holdout, output, strict=True):
        x1, x2, predicted = (float(value) for value in joined.split(","))
        assert joined.startswith(row + ",") and abs(predicted - (3 * x1 - 2 * x2 + 1)) < 0.05  # JoinSource=Input
    assert "TransformJob demo-batch-transform: Completed (exit code 0)" in result.stdout
    assert f"predictions:     {predictions}  (1 file: holdout.csv.out)" in result.stdout
    assert f"first lines of {predictions / 'holdout.csv.out'}:\n  {output[0]}\n  {output[1]}\n" in result.stdout + "\n"
    described = _described(work)
    assert described["TransformJobStatus"] == "Completed" and described["ModelName"] == "demo-linear-regression"
    assert described["LocalSummary"]["Records"] == 20 and described["BatchStrategy"] == "MultiRecord"
    assert (work / "algo-1" / "model" / "model.json").is_file() and (
        work / "algo-1" / "code" / "inference.py"
    ).is_file()
    assert "algo-1 | " in result.stdout and "Listening at" in (work / "algo-1.log").read_text()
    assert not psutil.pid_exists(_server_pid(work))  # the server was stopped


ECHO_INFERENCE = b"""
import json, os
def model_fn(model_dir):
    return json.load(open(os.path.join(model_dir, "model.json")))
def input_fn(body, content_type):
    return body.decode()
def predict_fn(data, model):
    if "poison" in data:
        raise ValueError("poisoned record")
    return "".join(model["prefix"] + line + "\\n" for line in data.splitlines())
def output_fn(prediction, accept):
    return prediction
"""


def test_model_and_data_from_s3_with_the_code_in_the_model_tarball(
    tmp_path: Path, s3_server: S3Server, s3_env: dict[str, str]
) -> None:
    bucket, client = s3_env["SMTOOLKIT_TEST_BUCKET"], s3_server.client()
    model = _tarball({"model.json": b'{"prefix": "seen:"}', "code/inference.py": ECHO_INFERENCE})  # as the SDK repacks
    client.put_object(Bucket=bucket, Key="models/echo/model.tar.gz", Body=model)
    client.put_object(Bucket=bucket, Key="in/a.txt", Body=b"1\n2\n")
    client.put_object(Bucket=bucket, Key="in/sub/b.txt", Body=b"3\n")
    spec = {
        "TransformJobName": "from-s3",
        "Model": {
            "PrimaryContainer": {
                "ModelDataUrl": f"s3://{bucket}/models/echo/model.tar.gz",
                "Environment": {"SAGEMAKER_PROGRAM": "inference.py"},
            }
        },
        "TransformInput": {"DataSource": {"S3DataSource": {"S3Uri": f"s3://{bucket}/in/"}}, "SplitType": "Line"},
        "TransformOutput": {"S3OutputPath": f"s3://{bucket}/out/", "AssembleWith": "Line"},
        "Environment": {"SAGEMAKER_MODEL_SERVER_WORKERS": "1"},
    }
    spec_file = tmp_path / "spec.json"
    spec_file.write_text(json.dumps(spec))
    work = tmp_path / "work"
    result = _run(["transform", str(spec_file), "--work-dir", str(work), "--preview", "5"], extra_env=s3_env)
    assert result.returncode == 0, result.stdout + result.stderr

    def read(key: str) -> bytes:
        return client.get_object(Bucket=bucket, Key=key)["Body"].read()

    assert read("out/a.txt.out") == b"seen:1\nseen:2\n" and read("out/sub/b.txt.out") == b"seen:3\n"
    assert f"first lines of s3://{bucket}/out/a.txt.out:\n  seen:1\n  seen:2" in result.stdout
    described = _described(work)
    assert described["TransformJobStatus"] == "Completed" and described["LocalCodeDir"] is None
    assert described["LocalModelSource"] == f"s3://{bucket}/models/echo/model.tar.gz"
    assert (work / "algo-1" / "model" / "code" / "inference.py").is_file()


def test_failed_files_and_a_model_that_cannot_load_fail_the_job(tmp_path: Path) -> None:
    model = tmp_path / "model"
    (model / "code").mkdir(parents=True)
    (model / "model.json").write_text('{"prefix": ">"}')
    (model / "code" / "inference.py").write_bytes(ECHO_INFERENCE)
    inputs = tmp_path / "in"
    inputs.mkdir()
    (inputs / "good.txt").write_text("fine\n")
    (inputs / "bad.txt").write_text("poison\n")
    work = tmp_path / "work"
    base = ["transform", "--work-dir", str(work), "--model-data", str(model), "--entry-point", "inference.py"]
    base += ["--job-name", "failing"]
    result = _run([*base, "--input", str(inputs), "--max-retries", "0", "-e", "SAGEMAKER_MODEL_SERVER_WORKERS=1"])
    assert result.returncode == 1, result.stdout + result.stderr
    output = work / "output" / "failing"
    assert (output / "good.txt.out").read_text() == ">fine\n" and not (output / "bad.txt.out").exists()
    described = _described(work)
    assert described["TransformJobStatus"] == "Failed"
    assert described["FailureReason"].startswith("ClientError: 1 of 2 files transformed")
    assert "FAILED bad.txt: batch 1" in described["FailureReason"] and "poisoned record" in result.stdout
    assert described["LocalFailedFiles"][0]["Input"] == str(inputs / "bad.txt")

    (model / "model.json").write_text("not json")  # model_fn fails: the server exits before /ping answers
    result = _run([*base, "--input", str(inputs)])
    assert result.returncode == 1, result.stdout + result.stderr
    reason = _described(work)["FailureReason"]
    assert reason.startswith("ClientError: the model server exited before answering /ping")
    assert "the model server exited with code" in reason and "JSONDecodeError" in reason and len(reason) <= 1024


def test_bad_spec_and_missing_model_exit_2_before_any_server_starts(tmp_path: Path) -> None:
    spec = tmp_path / "bad.json"
    spec.write_text(json.dumps({"TransformInput": {"DataSource": {}}, "MaxConcurrentTransforms": -1}))
    result = _run(["transform", str(spec)])
    assert result.returncode == 2
    assert f"error: {spec}: TransformInput.DataSource.S3DataSource: required field is missing" in result.stderr
    assert f"error: {spec}: MaxConcurrentTransforms: Input should be greater than or equal to 0" in result.stderr
    work = tmp_path / "work"
    result = _run(
        ["transform", "--work-dir", str(work), "--model-data", "nowhere.tar.gz", "--input", str(EXAMPLES / "data")]
    )
    assert "--model-data (Model.PrimaryContainer.ModelDataUrl): no such file or directory" in result.stderr
    assert result.returncode == 2
    assert not (work / "job.json").exists() and not (work / "algo-1.log").exists()


SLOW_INFERENCE = """
import time
def model_fn(model_dir):
    return None
def input_fn(body, content_type):
    return body
def predict_fn(data, model):
    time.sleep(0.4)
    return data
def output_fn(prediction, accept):
    return prediction
"""


def test_sigint_stops_the_job_keeps_finished_files_and_stops_the_server(tmp_path: Path) -> None:
    code, inputs, work = tmp_path / "code", tmp_path / "in", tmp_path / "work"
    code.mkdir()
    (code / "inference.py").write_text(SLOW_INFERENCE)
    inputs.mkdir()
    for index in range(20):
        (inputs / f"f{index:02d}.txt").write_text("x\n")
    argv = [*LOCAL, "transform", "--work-dir", str(work), "--source-dir", str(code), "--entry-point", "inference.py"]
    argv += ["--input", str(inputs), "--workers", "1", "--job-name", "slow"]
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not (work / "output" / "slow" / "f00.txt.out").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 130
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    described = _described(work)
    assert described["TransformJobStatus"] == "Stopped" and "FailureReason" not in described
    finished = described["LocalOutputFiles"]
    assert 1 <= len(finished) < 20 and (work / "output" / "slow" / "f00.txt.out").read_text() == "x\n"
    assert sorted(path.name for path in (work / "output" / "slow").iterdir()) == [
        Path(item["Output"]).name for item in finished
    ]
    assert not psutil.pid_exists(_server_pid(work))
