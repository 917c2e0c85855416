"""OpenMPI across two namespace "hosts": mpirun on algo-1, sshd on algo-2, each host running `train`."""

from __future__ import annotations

import json
import signal
import time

from tests.integration.multihost.cluster import Cluster, SshKeys
from tests.integration.processes import alive

TIMEOUT = 60
HPS = {"sagemaker_program": "train.py", "sagemaker_mpi_enabled": "true", "sagemaker_mpi_num_of_processes_per_host": "2"}

ALLREDUCE = """
import json, os
from mpi4py import MPI
comm = MPI.COMM_WORLD
total = comm.allreduce(comm.Get_rank() + 1)
record = {"sum": total, "size": comm.Get_size(), "host": os.environ["SM_CURRENT_HOST"], "cwd": os.getcwd()}
with open(os.path.join(os.environ["SM_MODEL_DIR"], f"rank-{comm.Get_rank()}.json"), "w") as f:
    json.dump(record, f)
"""

RAISES = """
import os, time
from mpi4py import MPI
comm = MPI.COMM_WORLD
if comm.Get_rank() == 3:
    raise ValueError("boom from rank 3")
time.sleep(60)
"""

SLEEPS = """
import os, time
from mpi4py import MPI
comm = MPI.COMM_WORLD
with open(os.path.join(os.environ["SM_MODEL_DIR"], f"pid-{comm.Get_rank()}"), "w") as f:
    f.write(str(os.getpid()))
comm.Barrier()
time.sleep(120)
"""


def _run(cluster: Cluster, ssh_keys: SshKeys) -> tuple[int, int]:
    worker = cluster.train(cluster.hosts[1], ssh_keys.environ)
    master = cluster.train(cluster.hosts[0], ssh_keys.environ)
    return master.wait(TIMEOUT), worker.wait(TIMEOUT)


def test_allreduce_across_two_hosts(cluster: Cluster, ssh_keys: SshKeys) -> None:
    cluster.write_jobs(HPS, {"train.py": ALLREDUCE})
    codes = _run(cluster, ssh_keys)
    assert codes == (0, 0), cluster.log(cluster.hosts[0]) + cluster.log(cluster.hosts[1])
    for rank in range(4):
        host = cluster.hosts[rank // 2]
        record = json.loads((host.base / "model" / f"rank-{rank}.json").read_text())
        assert record == {"sum": 10, "size": 4, "host": host.name, "cwd": str(host.base / "code")}
    assert all((host.base / "output" / "success").exists() for host in cluster.hosts)


def test_failing_rank_fails_every_host_with_its_error(cluster: Cluster, ssh_keys: SshKeys) -> None:
    cluster.write_jobs(HPS, {"train.py": RAISES})
    start = time.monotonic()
    codes = _run(cluster, ssh_keys)
    assert codes[0] != 0 and codes[1] != 0
    assert time.monotonic() - start < 30  # the sleeping ranks were stopped, not waited for
    for host in cluster.hosts:
        failure = (host.base / "output" / "failure").read_text()
        assert 'ExtraInfo "rank 3 on host algo-2 failed first"' in failure, failure
        assert "ValueError: boom from rank 3" in failure


def test_sigterm_to_the_master_stops_every_rank(cluster: Cluster, ssh_keys: SshKeys) -> None:
    cluster.write_jobs(HPS, {"train.py": SLEEPS})
    worker = cluster.train(cluster.hosts[1], ssh_keys.environ)
    master = cluster.train(cluster.hosts[0], ssh_keys.environ)
    pids = [cluster.hosts[rank // 2].base / "model" / f"pid-{rank}" for rank in range(4)]
    deadline = time.monotonic() + TIMEOUT
    while not all(path.exists() for path in pids):
        assert time.monotonic() < deadline and master.poll() is None, cluster.log(cluster.hosts[0])
        time.sleep(0.1)
    master.send_signal(signal.SIGTERM)
    assert master.wait(TIMEOUT) != 0 and worker.wait(TIMEOUT) != 0
    for path in pids:
        assert not alive(int(path.read_text())), path
    for host in cluster.hosts:
        assert "received SIGTERM" in (host.base / "output" / "failure").read_text()


def test_sigterm_while_the_master_waits_for_the_workers_ends_the_wait(cluster: Cluster, ssh_keys: SshKeys) -> None:
    cluster.write_jobs(HPS, {"train.py": ALLREDUCE})
    master = cluster.train(cluster.hosts[0], ssh_keys.environ)  # no worker: its sshd never answers
    deadline = time.monotonic() + TIMEOUT
    while "waiting for sshd on the MPI workers" not in cluster.log(cluster.hosts[0]):
        assert time.monotonic() < deadline and master.poll() is None, cluster.log(cluster.hosts[0])
        time.sleep(0.05)
    stopped = time.monotonic()
    master.send_signal(signal.SIGTERM)
    assert master.wait(TIMEOUT) == 128 + signal.SIGTERM
    assert time.monotonic() - stopped < 5
    failure = (cluster.hosts[0].base / "output" / "failure").read_text()
    assert "received SIGTERM while waiting for the MPI workers' sshd" in failure, failure
