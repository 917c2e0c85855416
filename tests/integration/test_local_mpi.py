"""`smtoolkit local train` with OpenMPI across 2 local hosts: real mpirun, orted and mpi4py ranks on this machine,
started through the local agent (no ssh), each host's ranks in their own job tree."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

import pytest

from tests.integration.local_jobs import stop_when_ready
from tests.integration.processes import alive
from tests.s3server import free_port

pytestmark = pytest.mark.integration

LOCAL = [sys.executable, "-m", "smtoolkit.local"]

MPI_SCRIPT = """
import json, os, sys, time
import numpy as np
from mpi4py import MPI
from smtoolkit import env
comm = MPI.COMM_WORLD
rank, world = comm.Get_rank(), comm.Get_size()
with open(os.path.join(os.environ["PIDS"], f"{rank}.pid"), "w") as stream:
    stream.write(str(os.getpid()))
block = np.full(1_000_000, rank + 1.0)  # 8 MB: shared memory within a host, TCP between hosts
total = np.empty_like(block)
comm.Allreduce(block, total)
mode = os.environ.get("MODE")
if mode == "fail" and rank == 3:
    raise ValueError(f"bad shard on {env.current_host}")
if mode == "wait":
    comm.Barrier()
    if rank == 0:
        print("ready", flush=True)
    time.sleep(120)
info = {"host": env.current_host, "sm_host": os.environ["SM_CURRENT_HOST"], "world": world, "sum": total[-1],
        "cwd": os.getcwd(), "args": sys.argv[1:]}
env.output_data_dir.mkdir(parents=True, exist_ok=True)
(env.output_data_dir / f"rank-{rank}.json").write_text(json.dumps(info))
if rank == 0:
    env.model_dir.mkdir(parents=True, exist_ok=True)
    (env.model_dir / "model.json").write_text(json.dumps({"world": world}))
"""


def _job(tmp_path: Path, mode: str, *flags: str) -> list[str]:
    code = tmp_path / "code"
    code.mkdir(exist_ok=True)
    (code / "train.py").write_text(MPI_SCRIPT)
    (tmp_path / "pids").mkdir(exist_ok=True)
    return [
        *LOCAL,
        "train",
        "--work-dir",
        str(tmp_path / "work"),
        "--entry-point",
        "train.py",
        "--source-dir",
        str(code),
        "--instance-count",
        "2",
        "--hyperparameter",
        "sagemaker_mpi_enabled=true",
        "--hyperparameter",
        "sagemaker_mpi_num_of_processes_per_host=2",
        "--hyperparameter",
        "lr=0.5",
        "--env",
        f"PIDS={tmp_path / 'pids'}",
        "--env",
        f"MODE={mode}",
        "--env",
        f"SM_MASTER_PORT={free_port()}",
        *flags,
    ]


def _environ() -> dict[str, str]:
    return {**os.environ, "SMTOOLKIT_COORDINATOR_PORT": str(free_port())}


def _described(tmp_path: Path) -> dict[str, Any]:
    result: dict[str, Any] = json.loads((tmp_path / "work" / "job.json").read_text())
    return result


def _members(archive: str) -> dict[str, bytes]:
    with tarfile.open(archive) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}  # type: ignore[union-attr]


def _running(tmp_path: Path) -> list[int]:
    """The ranks' pids that are still running."""
    pids = [int(pid_file.read_text()) for pid_file in (tmp_path / "pids").glob("*.pid")]
    return [pid for pid in pids if alive(pid)]


@pytest.mark.parametrize("hostnames", ["on", "off"])
def test_two_host_mpi_job_runs_every_rank_in_its_hosts_tree(tmp_path: Path, hostnames: str) -> None:
    """on: the master runs as algo-1 and every algo-N resolves here, so mpirun must still start algo-2's
    ranks through the agent; off: mpirun takes neither host for itself and starts both through it."""
    argv = _job(tmp_path, "ok", "--hostnames", hostnames)
    result = subprocess.run(argv, env=_environ(), capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stdout + result.stderr
    described = _described(tmp_path)
    ranks = {name: json.loads(data) for name, data in _members(described["LocalOutputArtifacts"]).items()}
    work = tmp_path / "work"
    assert ranks == {
        f"rank-{rank}.json": {
            "host": f"algo-{rank // 2 + 1}",
            "sm_host": f"algo-{rank // 2 + 1}",
            "world": 4,
            "sum": 10.0,
            "cwd": str(tmp_path / "code"),  # the submitted local source dir runs in place, never copied into
            "args": ["--lr", "0.5"],
        }
        for rank in range(4)
    }
    assert json.loads(_members(described["ModelArtifacts"]["S3ModelArtifacts"])["model.json"]) == {"world": 4}
    assert all((work / host / "output" / "success").exists() for host in ("algo-1", "algo-2"))
    assert not any((work / ".mpi").iterdir()), "each host's variables file is removed when the job ends"


def test_a_rank_failing_on_the_second_host_fails_the_job_with_its_traceback(tmp_path: Path) -> None:
    result = subprocess.run(_job(tmp_path, "fail"), env=_environ(), capture_output=True, text=True, timeout=180)
    assert result.returncode == 1, result.stdout + result.stderr
    described = _described(tmp_path)
    assert described["TrainingJobStatus"] == "Failed"
    reason = described["FailureReason"]
    assert 'ExtraInfo "rank 3 on host algo-2 failed first"' in reason, reason
    assert "ValueError: bad shard on algo-2" in reason and f"{tmp_path}/code/train.py" in reason
    assert _running(tmp_path) == []


def test_sigterm_stops_every_rank_on_every_host(tmp_path: Path) -> None:
    stop_when_ready(_job(tmp_path, "wait", "--grace-period", "20"), signal.SIGTERM, 143, _environ())
    assert _described(tmp_path)["TrainingJobStatus"] == "Stopped"
    assert len(list((tmp_path / "pids").glob("*.pid"))) == 4
    assert _running(tmp_path) == []
