"""Checkpoints, intermediate output and the metrics file, end to end: real `train` and `smtoolkit local train`
processes, a real SIGTERM, real inotify events, and the S3-compatible server."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from smtoolkit import storage
from smtoolkit.dirsync.destination import Destination
from smtoolkit.dirsync.uploader import FolderUploader
from tests.s3server import S3Server

pytestmark = pytest.mark.integration

LOCAL = [sys.executable, "-m", "smtoolkit.local"]
TRAIN = [sys.executable, "-m", "smtoolkit", "train"]


def _wait_for(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def _body(server: S3Server, bucket: str, key: str) -> bytes | None:
    try:
        body: bytes = server.client().get_object(Bucket=bucket, Key=key)["Body"].read()
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "NoSuchKey":
            return None
        raise
    return body


def _keys(server: S3Server, bucket: str, prefix: str) -> list[str]:
    listed = server.client().list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
    return sorted(item["Key"][len(prefix) :] for item in listed)


def _read_until(process: subprocess.Popen[bytes], marker: bytes, timeout: float = 60.0) -> bytes:
    assert process.stdout is not None
    seen = b""
    deadline = time.monotonic() + timeout
    for line in process.stdout:
        seen += line
        if marker in line or time.monotonic() > deadline:
            break
    assert marker in seen, seen.decode(errors="replace")
    return seen


def test_big_files_go_in_parts_and_renames_and_rewrites_count(
    s3_server: S3Server, s3_env: dict[str, str], s3_bucket: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(storage, "MULTIPART_THRESHOLD", 5 * 1024 * 1024)  # S3's smallest part
    watched = tmp_path / "intermediate"
    target = Destination(f"s3://{s3_bucket}/run/", s3_env)
    with FolderUploader(watched, target, what="test"):
        big = os.urandom(11 * 1024 * 1024)
        (watched / "big.bin").write_bytes(big)
        _wait_for(lambda: _body(s3_server, s3_bucket, "run/big.bin") == big)
        etag = s3_server.client().head_object(Bucket=s3_bucket, Key="run/big.bin")["ETag"]
        assert etag.strip('"').endswith("-2")  # a multipart upload's ETag counts its parts (8 MiB each)
        staged = tmp_path / "staged.txt"
        staged.write_text("renamed in")
        os.rename(staged, watched / "renamed.txt")
        (watched / "big.bin").write_bytes(b"small now")
        _wait_for(lambda: _body(s3_server, s3_bucket, "run/big.bin") == b"small now")
        assert _body(s3_server, s3_bucket, "run/renamed.txt") == b"renamed in"
    assert _keys(s3_server, s3_bucket, "run/") == ["big.bin", "renamed.txt"]


INTERMEDIATE_SCRIPT = """
import os, pathlib, time
from smtoolkit import env
folder = env.output_intermediate_dir
(folder / "a.txt").write_text("first")
print("wrote a", flush=True)
go = pathlib.Path(os.environ["GO_FILE"])
deadline = time.monotonic() + 60
while not go.exists() and time.monotonic() < deadline:
    time.sleep(0.05)
staged = env.model_dir / "b.tmp"
staged.write_text("renamed in")
os.rename(staged, folder / "b.txt")
(folder / "a.txt").write_text("second")
"""


def test_train_uploads_intermediate_output_while_the_job_runs(
    job_tree: Any, s3_server: S3Server, s3_env: dict[str, str], s3_bucket: str, tmp_path: Path
) -> None:
    output = f"s3://{s3_bucket}/jobs"
    base = job_tree(hyperparameters={"sagemaker_program": '"train.py"', "sagemaker_s3_output": json.dumps(output)})
    (base / "code").mkdir()
    (base / "code" / "train.py").write_text(INTERMEDIATE_SCRIPT)
    (base / "model").mkdir()
    go = tmp_path / "go"
    env = {**os.environ, **s3_env, "SAGEMAKER_BASE_DIR": str(base), "TRAINING_JOB_NAME": "job-7", "GO_FILE": str(go)}
    process = subprocess.Popen(TRAIN, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        _read_until(process, b"wrote a")
        key = "jobs/job-7/output/intermediate/"
        _wait_for(lambda: _body(s3_server, s3_bucket, key + "a.txt") == b"first")  # while the job still runs
        assert process.poll() is None
        go.touch()
        assert process.wait(timeout=60) == 0
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()
        assert process.stdout is not None
        process.stdout.close()
    assert _body(s3_server, s3_bucket, key + "a.txt") == b"second"
    assert _body(s3_server, s3_bucket, key + "b.txt") == b"renamed in"


def test_train_refuses_an_output_it_cannot_upload_to(job_tree: Any) -> None:
    base = job_tree(hyperparameters={"sagemaker_program": '"train.py"', "sagemaker_s3_output": '"gs://b/x"'})
    (base / "code").mkdir()
    (base / "code" / "train.py").write_text("")
    env = {**os.environ, "SAGEMAKER_BASE_DIR": str(base), "TRAINING_JOB_NAME": "j"}
    result = subprocess.run(TRAIN, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    failure = (base / "output" / "failure").read_text()
    assert "sagemaker_s3_output" in failure and "expected an s3://bucket/prefix or file:// URI" in failure


RESUMABLE_SCRIPT = """
import time
from smtoolkit import checkpoints, env, log_metric
latest = checkpoints.latest("step-*.ckpt")
start = int(latest.read_bytes()) + 1 if latest else 0
print(f"resumed from {latest.name if latest else 'nothing'}", flush=True)
for step in range(start, start + (2 if latest else 3)):
    with checkpoints.save(f"step-{step}.ckpt") as path:
        path.write_bytes(str(step).encode())
    log_metric("train:step", step, step=step)
    (env.output_intermediate_dir / "progress.txt").write_text(str(step))
if not latest:
    print("ready", flush=True)
    time.sleep(60)  # until the stop: SIGTERM's default action ends it, as a spot interruption would
"""


def test_a_stopped_local_job_resumes_from_its_checkpoints(
    s3_server: S3Server, s3_env: dict[str, str], s3_bucket: str, tmp_path: Path
) -> None:
    code = tmp_path / "code"
    code.mkdir()
    (code / "train.py").write_text(RESUMABLE_SCRIPT)

    def argv(run: str) -> list[str]:
        return [
            *LOCAL, "train", "--work-dir", str(tmp_path / run), "--entry-point", "train.py", "--source-dir", str(code),
            "--job-name", "resumable", "--checkpoint-uri", f"s3://{s3_bucket}/ckpt/",
            "--output-path", f"s3://{s3_bucket}/out",
        ]  # fmt: skip

    env = {**os.environ, **s3_env}
    process = subprocess.Popen(argv("first"), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        _read_until(process, b"ready")
        # Mirrored while the job runs, not only at its end.
        _wait_for(lambda: _keys(s3_server, s3_bucket, "ckpt/") == ["step-0.ckpt", "step-1.ckpt", "step-2.ckpt"])
        process.send_signal(signal.SIGTERM)
        assert process.stdout is not None
        process.stdout.read()
        process.wait(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()
    assert json.loads((tmp_path / "first" / "job.json").read_text())["TrainingJobStatus"] == "Stopped"

    second = subprocess.run(argv("second"), env=env, capture_output=True, text=True, timeout=120)
    assert second.returncode == 0, second.stdout + second.stderr
    assert "algo-1 | resumed from step-2.ckpt" in second.stdout
    assert _keys(s3_server, s3_bucket, "ckpt/") == [f"step-{n}.ckpt" for n in range(5)]
    assert _body(s3_server, s3_bucket, "out/resumable/output/intermediate/progress.txt") == b"4"
    described = json.loads((tmp_path / "second" / "job.json").read_text())
    assert [(m["MetricName"], m["Value"]) for m in described["FinalMetricDataList"]] == [("train:step", 4.0)]
    table = second.stdout.split("metrics:")[1]
    assert "train:step" in table and " 4 " in table


def test_checkpoints_of_a_failed_local_job_are_kept(tmp_path: Path) -> None:
    code = tmp_path / "code"
    code.mkdir()
    (code / "train.py").write_text(
        "from smtoolkit import checkpoints\ncheckpoints.save_bytes('step-7.ckpt', b'7')\nraise SystemExit(3)\n"
    )
    saved = tmp_path / "saved"
    argv = [*LOCAL, "train", "--work-dir", str(tmp_path / "work"), "--entry-point", "train.py"]
    argv += ["--source-dir", str(code), "--checkpoint-uri", str(saved)]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    assert result.returncode == 3, result.stdout + result.stderr
    assert (saved / "step-7.ckpt").read_bytes() == b"7"
    assert json.loads((tmp_path / "work" / "job.json").read_text())["TrainingJobStatus"] == "Failed"
