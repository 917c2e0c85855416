"""torchrun across two namespace "hosts" x 2 processes with torch.distributed (gloo, CPU), each host running
`train`: static rendezvous at the master, no ssh."""

from __future__ import annotations

import json
import time

from tests.integration.multihost.cluster import Cluster
from tests.integration.processes import alive

TIMEOUT = 90
HPS = {"sagemaker_program": "train.py", "sagemaker_torch_distributed_enabled": "true"}
SETTINGS = {"SMTOOLKIT_NPROC_PER_HOST": "2", "SM_MASTER_PORT": "29400"}

ALLREDUCE = """
import json, os
import torch, torch.distributed as dist
dist.init_process_group("gloo")
value = torch.tensor([float(dist.get_rank() + 1)])
dist.all_reduce(value)
record = {"sum": value.item(), "world": dist.get_world_size(), "host": os.environ["SM_CURRENT_HOST"]}
with open(os.path.join(os.environ["SM_MODEL_DIR"], f"rank-{dist.get_rank()}.json"), "w") as f:
    json.dump(record, f)
dist.destroy_process_group()
"""

RAISES = """
import time
import torch.distributed as dist
dist.init_process_group("gloo")
if dist.get_rank() == 2:
    raise RuntimeError("rank 2 gives up")
time.sleep(60)
"""

# Rank 3's code ends, but a non-daemon thread keeps its process alive: torchrun on algo-2 waits for it forever,
# and torchrun on algo-1 waits in its exit barrier for algo-2's agent (300 s by default).
LINGERS = """
import os, threading, time
import torch, torch.distributed as dist
dist.init_process_group("gloo")
value = torch.tensor([1.0])
dist.all_reduce(value)
rank = dist.get_rank()
dist.destroy_process_group()
if rank == 3:
    with open(os.path.join(os.environ["SM_MODEL_DIR"], "lingering.pid"), "w") as f:
        f.write(str(os.getpid()))
    threading.Thread(target=time.sleep, args=(600,)).start()
"""


def _run(cluster: Cluster, settings: dict[str, str] = SETTINGS) -> tuple[int, int]:
    master = cluster.train(cluster.hosts[0], settings)
    worker = cluster.train(cluster.hosts[1], settings)
    return master.wait(TIMEOUT), worker.wait(TIMEOUT)


def test_allreduce_two_hosts_two_processes_each(cluster: Cluster) -> None:
    cluster.write_jobs(HPS, {"train.py": ALLREDUCE})
    codes = _run(cluster)
    assert codes == (0, 0), cluster.log(cluster.hosts[0]) + cluster.log(cluster.hosts[1])
    for rank in range(4):
        host = cluster.hosts[rank // 2]
        record = json.loads((host.base / "model" / f"rank-{rank}.json").read_text())
        assert record == {"sum": 10.0, "world": 4, "host": host.name}
    assert all((host.base / "output" / "success").exists() for host in cluster.hosts)


def test_failing_rank_fails_every_host_with_its_error(cluster: Cluster) -> None:
    cluster.write_jobs(HPS, {"train.py": RAISES})
    start = time.monotonic()
    codes = _run(cluster)
    assert codes[0] != 0 and codes[1] != 0, cluster.log(cluster.hosts[0])
    assert time.monotonic() - start < 45  # the sleeping ranks were stopped, not waited for
    for host in cluster.hosts:
        failure = (host.base / "output" / "failure").read_text()
        assert 'ExtraInfo "rank 2 on host algo-2 failed first"' in failure, failure
        assert "RuntimeError: rank 2 gives up" in failure


def test_torchrun_that_does_not_exit_after_its_ranks_is_stopped(cluster: Cluster) -> None:
    cluster.write_jobs(HPS, {"train.py": LINGERS})
    start = time.monotonic()
    codes = _run(cluster, {**SETTINGS, "SMTOOLKIT_EXIT_GRACE_S": "2"})
    logs = cluster.log(cluster.hosts[0]) + cluster.log(cluster.hosts[1])
    assert codes == (0, 0), logs
    assert time.monotonic() - start < 60
    assert all((host.base / "output" / "success").exists() for host in cluster.hosts)
    assert "rank 3 (pid" in cluster.log(cluster.hosts[1]) and "stopping it" in cluster.log(cluster.hosts[0])
    pid = int((cluster.hosts[1].base / "model" / "lingering.pid").read_text())
    assert not alive(pid)
