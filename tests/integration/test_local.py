"""`smtoolkit local train|process` end to end: real host processes, real FIFOs, a real S3 server on loopback,
and a real 2-host torch.distributed (gloo) job whose hosts reach each other through SMTOOLKIT_HOST_ADDRESSES.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

import pytest

from tests.integration.local_jobs import stop_when_ready
from tests.s3server import S3Server, free_port

pytestmark = pytest.mark.integration

LOCAL = [sys.executable, "-m", "smtoolkit.local"]
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _run(
    args: list[str], extra_env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **(extra_env or {})}
    return subprocess.run([*LOCAL, *args], env=env, capture_output=True, text=True, timeout=timeout)


def _train_args(work: Path, code: Path, *flags: str) -> list[str]:
    """`train` of the train.py in `code`, its job trees in `work`, plus `flags`."""
    return ["train", "--work-dir", str(work), "--entry-point", "train.py", "--source-dir", str(code), *flags]


def _described(work: Path) -> dict[str, Any]:
    result: dict[str, Any] = json.loads((work / "job.json").read_text())
    return result


def _members(archive: Path) -> dict[str, bytes]:
    with tarfile.open(archive) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}  # type: ignore[union-attr]


def _code(tmp_path: Path, script: str) -> Path:
    code = tmp_path / "code"
    code.mkdir()
    (code / "train.py").write_text(script)
    return code


def test_demo_job_end_to_end_with_metrics(tmp_path: Path) -> None:
    work = tmp_path / "work"
    result = _run(["train", str(EXAMPLES / "train-job.json"), "--work-dir", str(work)])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "algo-1 | epoch=200 train_rmse=" in result.stdout
    assert "TrainingJob demo-linear-regression: Completed (exit code 0)" in result.stdout
    assert "train:rmse" in result.stdout.split("metrics:")[1]
    described = _described(work)
    assert described["TrainingJobStatus"] == "Completed"
    assert described["FinalMetricDataList"][0]["MetricName"] == "train:rmse"
    model = json.loads(_members(Path(described["ModelArtifacts"]["S3ModelArtifacts"]))["model.json"])
    assert [round(w) for w in model["weights"]] == [3, -2] and round(model["bias"]) == 1
    config = work / "algo-1" / "input" / "config"
    assert json.loads((config / "hyperparameters.json").read_text())["epochs"] == "200"
    assert json.loads((config / "inputdataconfig.json").read_text())["train"]["S3DistributionType"] == "FullyReplicated"


HOSTS_SCRIPT = """
import json, os, socket
from smtoolkit import env
info = {"host": env.current_host, "hosts": env.hosts, "rank": env.host_rank, "sm_host": os.environ["SM_CURRENT_HOST"],
        "hostname": socket.gethostname(), "resolved": [socket.gethostbyname(host) for host in env.hosts],
        "files": [p.name for p in env.channels["train"].files()], "job": os.environ["TRAINING_JOB_NAME"],
        "addresses": json.loads(os.environ["SMTOOLKIT_HOST_ADDRESSES"])}
env.model_dir.mkdir(parents=True, exist_ok=True)
(env.model_dir / f"{env.current_host}.json").write_text(json.dumps(info))
(env.model_dir / "shared.txt").write_text(env.current_host)
env.output_data_dir.mkdir(parents=True, exist_ok=True)
(env.output_data_dir / f"{env.current_host}.txt").write_text("data")
print("hello from", env.current_host, flush=True)
"""


def test_two_host_plain_job(tmp_path: Path) -> None:
    code = _code(tmp_path, HOSTS_SCRIPT)
    data = tmp_path / "data"
    data.mkdir()
    (data / "a.csv").write_text("1\n")
    work = tmp_path / "work"
    flags = ["--job-name", "two-hosts", "--instance-count", "2", "--channel", f"train={data}", "--hostnames", "on"]
    result = _run(_train_args(work, code, *flags))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "algo-1 | hello from algo-1" in result.stdout and "algo-2 | hello from algo-2" in result.stdout
    members = _members(Path(_described(work)["ModelArtifacts"]["S3ModelArtifacts"]))
    infos = [json.loads(members[f"algo-{n}.json"]) for n in (1, 2)]
    assert [(i["host"], i["sm_host"], i["rank"]) for i in infos] == [("algo-1", "algo-1", 0), ("algo-2", "algo-2", 1)]
    assert all(
        i["hosts"] == ["algo-1", "algo-2"] and i["files"] == ["a.csv"] and i["job"] == "two-hosts" for i in infos
    )
    assert infos[0]["addresses"] == {"algo-1": "127.0.0.1", "algo-2": "127.0.0.1"}
    assert [(i["hostname"], i["resolved"]) for i in infos] == [(f"algo-{n}", ["127.0.0.1"] * 2) for n in (1, 2)]
    assert socket.gethostname() != "algo-1", "the names are the hosts' own, not this machine's"
    assert members["shared.txt"] == b"algo-1"  # a clash keeps the lower-numbered host's file
    outputs = _members(Path(_described(work)["LocalOutputArtifacts"]))
    assert sorted(outputs) == ["algo-1.txt", "algo-2.txt"]
    resources = json.loads((work / "algo-2" / "input" / "config" / "resourceconfig.json").read_text())
    assert resources["current_host"] == "algo-2"
    assert resources["instance_groups"] == [
        {"instance_group_name": "homogeneousCluster", "instance_type": "local", "hosts": ["algo-1", "algo-2"]}
    ]


TORCH_SCRIPT = """
import json, os
import torch
import torch.distributed as dist
from smtoolkit import env
dist.init_process_group("gloo")
rank, world = dist.get_rank(), dist.get_world_size()
total = torch.tensor([float(rank + 1)])
dist.all_reduce(total)
expected = world * (world + 1) / 2
assert total.item() == expected, (rank, total.item(), expected)
result = {"host": env.current_host, "world": world, "sum": total.item(), "master": os.environ["MASTER_ADDR"]}
env.output_data_dir.mkdir(parents=True, exist_ok=True)
(env.output_data_dir / f"rank-{rank}.json").write_text(json.dumps(result))
if rank == 0:
    env.model_dir.mkdir(parents=True, exist_ok=True)
    (env.model_dir / "model.json").write_text(json.dumps({"world": world, "sum": total.item(),
                                                          "sm_master_addr": os.environ["SM_MASTER_ADDR"]}))
dist.destroy_process_group()
"""


def test_two_host_torch_distributed_job(tmp_path: Path) -> None:
    code = _code(tmp_path, TORCH_SCRIPT)
    work = tmp_path / "work"
    flags = ["--instance-count", "2", "--hyperparameter", "sagemaker_torch_distributed_enabled=true"]
    flags += ["--env", f"SM_MASTER_PORT={free_port()}"]
    extra = {"SMTOOLKIT_NPROC_PER_HOST": "2", "SMTOOLKIT_COORDINATOR_PORT": str(free_port())}
    result = _run(_train_args(work, code, "--job-name", "torch-ddp", *flags), extra, timeout=180)
    assert result.returncode == 0, result.stdout + result.stderr
    ranks = {name: json.loads(data) for name, data in _members(Path(_described(work)["LocalOutputArtifacts"])).items()}
    assert ranks == {
        f"rank-{rank}.json": {"host": f"algo-{rank // 2 + 1}", "world": 4, "sum": 10.0, "master": "127.0.0.1"}
        for rank in range(4)
    }
    model = json.loads(_members(Path(_described(work)["ModelArtifacts"]["S3ModelArtifacts"]))["model.json"])
    assert model == {"world": 4, "sum": 10.0, "sm_master_addr": "127.0.0.1"}
    assert all((work / host / "output" / "success").exists() for host in ("algo-1", "algo-2"))


PIPE_SCRIPT = """
import hashlib, json
from smtoolkit import env
seen = {}
for name in ("plain", "wrapped"):
    channel = env.channels[name]
    seen[name] = [[r.decode() for r in channel.iter_records(epoch, timeout=30)] for epoch in (0, 1)]
seen["mode"] = env.channels["plain"].input_mode
env.model_dir.mkdir(parents=True, exist_ok=True)
(env.model_dir / "seen.json").write_text(json.dumps(seen))
"""


def test_pipe_mode_two_epochs_plain_and_recordio(tmp_path: Path) -> None:
    code = _code(tmp_path, PIPE_SCRIPT)
    data = tmp_path / "data"
    data.mkdir()
    (data / "1.txt").write_text("one\n")
    (data / "2.txt").write_text("two\n")
    work = tmp_path / "work"
    channels = ["--channel", f"plain={data}", "--channel", f"wrapped={data},record-wrapper=RecordIO"]
    result = _run(_train_args(work, code, "--input-mode", "Pipe", *channels))
    assert result.returncode == 0, result.stdout + result.stderr
    seen = json.loads(_members(Path(_described(work)["ModelArtifacts"]["S3ModelArtifacts"]))["seen.json"])
    assert seen["mode"] == "Pipe"
    assert seen["plain"] == [["one\ntwo\n"], ["one\ntwo\n"]]  # no wrapper: one stream per epoch
    assert seen["wrapped"] == [["one\n", "two\n"], ["one\n", "two\n"]]  # one record per object
    assert (work / "algo-1" / "input" / "data" / "plain_1").exists()


SHARD_SCRIPT = """
import json
from smtoolkit import env
env.output_data_dir.mkdir(parents=True, exist_ok=True)
keys = [str(p.relative_to(env.channels["train"].path)) for p in env.channels["train"].files()]
(env.output_data_dir / f"{env.current_host}.json").write_text(json.dumps(keys))
"""


def test_sharded_by_s3_key_across_two_hosts(tmp_path: Path, s3_server: S3Server, s3_env: dict[str, str]) -> None:
    bucket = s3_env["SMTOOLKIT_TEST_BUCKET"]
    client = s3_server.client()
    keys = ["part-0.csv", "part-1.csv", "part-2.csv", "sub/part-3.csv", "sub/part-4.csv"]
    for key in keys:
        client.put_object(Bucket=bucket, Key=f"data/train/{key}", Body=key.encode())
    code = _code(tmp_path, SHARD_SCRIPT)
    work = tmp_path / "work"
    result = _run(
        _train_args(
            work,
            code,
            "--job-name",
            "sharded",
            "--instance-count",
            "2",
            "--output-path",
            f"s3://{bucket}/out",
            "--channel",
            f"train=s3://{bucket}/data/train,distribution=ShardedByS3Key",
        ),
        extra_env=s3_env,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    host_1 = json.loads((work / "algo-1" / "output" / "data" / "algo-1.json").read_text())
    host_2 = json.loads((work / "algo-2" / "output" / "data" / "algo-2.json").read_text())
    assert host_1 == keys[0::2] and host_2 == keys[1::2]  # sorted keys dealt round-robin
    body = client.get_object(Bucket=bucket, Key="out/sharded/output/output.tar.gz")["Body"].read()
    assert len(body) > 0
    assert _described(work)["ModelArtifacts"]["S3ModelArtifacts"] == f"s3://{bucket}/out/sharded/output/model.tar.gz"


NO_MKDIR_SCRIPT = """
from smtoolkit import env
# No mkdir: the platform creates /opt/ml/model and /opt/ml/output/data before the code runs.
(env.model_dir / f"{env.current_host}.txt").write_text("model")
(env.output_data_dir / f"{env.current_host}.txt").write_text("data")
"""


def test_model_and_output_data_dirs_exist_on_every_host_before_the_code_runs(tmp_path: Path) -> None:
    code = _code(tmp_path, NO_MKDIR_SCRIPT)
    work = tmp_path / "work"
    result = _run(_train_args(work, code, "--instance-count", "2"))
    assert result.returncode == 0, result.stdout + result.stderr
    described = _described(work)
    assert sorted(_members(Path(described["ModelArtifacts"]["S3ModelArtifacts"]))) == ["algo-1.txt", "algo-2.txt"]
    assert sorted(_members(Path(described["LocalOutputArtifacts"]))) == ["algo-1.txt", "algo-2.txt"]


FAILING_SCRIPT = """
import sys
from smtoolkit import env
env.model_dir.mkdir(parents=True, exist_ok=True)
(env.model_dir / "partial.txt").write_text("written before the failure")
raise ValueError("bad value: 42")
"""


def test_failing_job_reports_status_reason_and_keeps_artifacts(tmp_path: Path) -> None:
    code = _code(tmp_path, FAILING_SCRIPT)
    work = tmp_path / "work"
    result = _run(_train_args(work, code))
    assert result.returncode == 1, result.stdout + result.stderr
    described = _described(work)
    assert described["TrainingJobStatus"] == "Failed"
    reason = described["FailureReason"]
    assert reason.startswith("UserScriptError:") and "ValueError: bad value: 42" in reason and len(reason) <= 1024
    assert "failure reason: UserScriptError:" in result.stdout
    members = _members(Path(described["ModelArtifacts"]["S3ModelArtifacts"]))
    assert members["partial.txt"] == b"written before the failure"


PROCESS_SCRIPT = """
import pathlib, socket, sys, time
from smtoolkit import env
print("hostname", socket.gethostname(), flush=True)
config = env.processing
first = pathlib.Path(config.inputs["first"].local_path)
second = pathlib.Path(config.inputs["second"].local_path)
report = pathlib.Path(config.outputs["report"].local_path)
live = pathlib.Path(config.outputs["live"].local_path)
(report / "summary.txt").write_text((first / "a.txt").read_text() + (second / "nested" / "b.txt").read_text())
(live / "progress.txt").write_text("halfway")
destination = pathlib.Path(sys.argv[1]) / "progress.txt"
deadline = time.monotonic() + 20
while not destination.exists():  # Continuous: uploaded while the job still runs
    if time.monotonic() > deadline:
        sys.exit("the Continuous output was not uploaded during the job")
    time.sleep(0.1)
print("continuous upload seen", flush=True)
"""


def test_processing_job_two_inputs_two_outputs(tmp_path: Path) -> None:
    (tmp_path / "in1").mkdir()
    (tmp_path / "in1" / "a.txt").write_text("A")
    (tmp_path / "in2" / "nested").mkdir(parents=True)
    (tmp_path / "in2" / "nested" / "b.txt").write_text("B")
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "process.py").write_text(PROCESS_SCRIPT)
    spec = {
        "ProcessingJobName": "two-by-two",
        "AppSpecification": {
            "ImageUri": "unused",
            "ContainerEntrypoint": [sys.executable, "/opt/ml/processing/input/code/process.py"],
            "ContainerArguments": [str(tmp_path / "live-out")],
        },
        "ProcessingInputs": [
            {"InputName": "code", "S3Input": {"S3Uri": "code", "LocalPath": "/opt/ml/processing/input/code"}},
            {"InputName": "first", "S3Input": {"S3Uri": "in1", "LocalPath": "/opt/ml/processing/input/first"}},
            {"InputName": "second", "S3Input": {"S3Uri": "in2", "LocalPath": "/opt/ml/processing/input/second"}},
        ],
        "ProcessingOutputConfig": {
            "Outputs": [
                {
                    "OutputName": "report",
                    "S3Output": {
                        "S3Uri": "report-out",
                        "LocalPath": "/opt/ml/processing/report",
                        "S3UploadMode": "EndOfJob",
                    },
                },
                {
                    "OutputName": "live",
                    "S3Output": {
                        "S3Uri": "live-out",
                        "LocalPath": "/opt/ml/processing/live",
                        "S3UploadMode": "Continuous",
                    },
                },
            ]
        },
    }
    spec_file = tmp_path / "process.json"
    spec_file.write_text(json.dumps(spec))
    work = tmp_path / "work"
    result = _run(["process", str(spec_file), "--work-dir", str(work), "--hostnames", "on"])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "algo-1 | continuous upload seen" in result.stdout and "algo-1 | hostname algo-1" in result.stdout
    assert (tmp_path / "report-out" / "summary.txt").read_text() == "AB"
    assert (tmp_path / "live-out" / "progress.txt").read_text() == "halfway"
    config = json.loads((work / "algo-1" / "config" / "processingjobconfig.json").read_text())
    assert config["ProcessingInputs"][1]["S3Input"]["LocalPath"] == str(
        work / "algo-1" / "processing" / "input" / "first"
    )
    assert json.loads((work / "algo-1" / "config" / "resourceconfig.json").read_text())["hosts"] == ["algo-1"]
    assert _described(work)["ProcessingJobStatus"] == "Completed"


STOPPABLE_SCRIPT = """
import signal, sys, time
from smtoolkit import env
env.model_dir.mkdir(parents=True, exist_ok=True)
def stop(signum, frame):
    (env.model_dir / "stopped.txt").write_text(signal.Signals(signum).name)
    sys.exit(0)
signal.signal(signal.SIGTERM, stop)
(env.model_dir / "started.txt").write_text("yes")
print("ready", flush=True)
time.sleep(60)
"""


def test_sigint_stops_the_job_and_collects_artifacts(tmp_path: Path) -> None:
    code = _code(tmp_path, STOPPABLE_SCRIPT)
    work = tmp_path / "work"
    argv = [*LOCAL, *_train_args(work, code, "--grace-period", "20")]
    stop_when_ready(argv, signal.SIGINT, 130)
    described = _described(work)
    assert described["TrainingJobStatus"] == "Stopped" and "FailureReason" not in described
    members = _members(Path(described["ModelArtifacts"]["S3ModelArtifacts"]))
    assert members["started.txt"] == b"yes" and members["stopped.txt"] == b"SIGTERM"
