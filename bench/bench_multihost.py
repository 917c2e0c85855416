"""A 2-host job (2 processes a host, one all_reduce, then exit) on two network-namespace hosts: `train` on
both hosts against plain `torchrun` / `mpirun` started by hand on the same namespaces, in the same run.

Each run has a timeout; a run that does not end within it counts as a hang (and is killed). For the plain
mpirun, sshd on algo-2 is started once beforehand, by hand, outside the timing (as an image would run it);
`train` starts its own sshd on the worker within each run. sagemaker-training 5.1.4 is not run: its MPI path
alone sleeps 30 s on the master and 30 s or more on each worker after the job (training_toolkits.md §5.2).
Needs root. Run: make bench (or .venv/bin/python -m bench.bench_multihost [runs]).
"""

from __future__ import annotations

import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

from tests.integration.multihost.cluster import Cluster, make_ssh_keys

HANG_TIMEOUT_S = 60.0
AWS_MPI_FIXED_WAITS_S = 30.0

TORCH_SCRIPT = """
import torch, torch.distributed as dist
dist.init_process_group("gloo")
value = torch.tensor([1.0])
dist.all_reduce(value)
assert value.item() == dist.get_world_size()
dist.destroy_process_group()
"""
MPI_SCRIPT = """
from mpi4py import MPI
assert MPI.COMM_WORLD.allreduce(1) == MPI.COMM_WORLD.Get_size()
"""


def _timed(processes: Callable[[], list[subprocess.Popen[bytes]]]) -> float | None:
    """Wall time until every process has exited with 0; None for a hang (killed after HANG_TIMEOUT_S)."""
    start = time.perf_counter()
    started = processes()
    deadline = start + HANG_TIMEOUT_S
    codes = []
    for process in started:
        try:
            codes.append(process.wait(max(deadline - time.perf_counter(), 0.01)))
        except subprocess.TimeoutExpired:
            for leftover in started:
                leftover.kill()
                leftover.wait()
            return None
    if any(codes):
        raise RuntimeError(f"a run failed: exit codes {codes}")
    return time.perf_counter() - start


def _spawn(cluster: Cluster, argvs: list[list[str]], environ: dict[str, str]) -> list[subprocess.Popen[bytes]]:
    env = {**environ}
    return [
        subprocess.Popen(host.command(argv), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for host, argv in zip(cluster.hosts, argvs, strict=True)
    ]


def _train(cluster: Cluster, extra: dict[str, str]) -> list[subprocess.Popen[bytes]]:
    started = []
    for host in reversed(cluster.hosts):
        started.append(cluster.train(host, extra))
    return started


def _plain_torchrun(cluster: Cluster, script: Path, environ: dict[str, str]) -> list[subprocess.Popen[bytes]]:
    argvs = [
        [sys.executable, "-m", "torch.distributed.run", "--nnodes", "2", "--node_rank", str(rank)]
        + ["--nproc_per_node", "2", "--master_addr", "algo-1", "--master_port", "29400", str(script)]
        for rank in range(2)
    ]
    return _spawn(cluster, argvs, {**environ, "GLOO_SOCKET_IFNAME": "eth0"})


def _plain_mpirun(
    cluster: Cluster, script: Path, ssh: dict[str, str], environ: dict[str, str]
) -> list[subprocess.Popen[bytes]]:
    rsh = shlex.join(["-p", ssh["SMTOOLKIT_SSH_PORT"], *shlex.split(ssh["SMTOOLKIT_SSH_OPTIONS"])])
    argv = ["mpirun", "--host", "algo-1:2,algo-2:2", "-np", "4", "--allow-run-as-root", "-mca", "plm_rsh_args", rsh]
    argv += ["-mca", "btl_tcp_if_include", "eth0", "-mca", "oob_tcp_if_include", "eth0", "-bind-to", "none"]
    argv += [sys.executable, "-m", "mpi4py", str(script)]
    return [
        subprocess.Popen(
            cluster.hosts[0].command(argv), env=environ, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
    ]


def _report(engine: str, times: dict[str, list[float | None]]) -> dict[str, float]:
    ok = {name: [t for t in values if t is not None] for name, values in times.items()}
    hangs = {name: sum(t is None for t in values) for name, values in times.items()}
    medians = {name: statistics.median(values) if values else float("nan") for name, values in ok.items()}
    for name in times:
        print(
            f"{engine:<9} {name:<7} median {medians[name]:6.2f} s   min {min(ok[name], default=float('nan')):6.2f} s"
            f"   hangs {hangs[name]}/{len(times[name])}"
        )
    ratio = medians["train"] / medians["plain"]
    print(
        f"{engine:<9} ratio train / plain: {ratio:.2f}x (goal <= 1.2x); sagemaker-training 5.1.4 adds "
        f">= {AWS_MPI_FIXED_WAITS_S:.0f} s of fixed sleeps to an MPI job"
    )
    return {
        f"{engine}_ratio": ratio,
        f"{engine}_hangs_train": float(hangs["train"]),
        f"{engine}_hangs_plain": float(hangs["plain"]),
    }


def main(runs: int = 10) -> dict[str, float]:
    import os

    results: dict[str, float] = {}
    base_env = {k: v for k, v in os.environ.items() if not k.startswith(("SM_", "SAGEMAKER_"))}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        ssh = make_ssh_keys(root / "ssh").environ
        for engine, script, hps in (
            ("torchrun", TORCH_SCRIPT, {"sagemaker_torch_distributed_enabled": "true"}),
            ("mpi", MPI_SCRIPT, {"sagemaker_mpi_enabled": "true"}),
        ):
            cluster = Cluster(root / engine)
            try:
                cluster.start(2)
                cluster.write_jobs({"sagemaker_program": "train.py", **hps}, {"train.py": script})
                script_path = cluster.hosts[0].base / "code" / "train.py"
                extra = {**ssh, "SMTOOLKIT_NPROC_PER_HOST": "2", "SM_MASTER_PORT": "29400"}
                times: dict[str, list[float | None]] = {"plain": [], "train": []}
                sshd = None
                if engine == "mpi":
                    sshd_argv = [*shlex.split(ssh["SMTOOLKIT_SSHD_COMMAND"]), "-p", ssh["SMTOOLKIT_SSH_PORT"]]
                    sshd = subprocess.Popen(cluster.hosts[1].command(sshd_argv), stderr=subprocess.DEVNULL)
                    time.sleep(0.5)
                for _ in range(runs):
                    if engine == "torchrun":
                        times["plain"].append(_timed(partial(_plain_torchrun, cluster, script_path, base_env)))
                    else:
                        times["plain"].append(_timed(partial(_plain_mpirun, cluster, script_path, ssh, base_env)))
                    if sshd is not None:  # train's worker runs its own sshd on the same port
                        sshd.terminate()
                        sshd.wait()
                    times["train"].append(_timed(partial(_train, cluster, extra)))
                    if sshd is not None:
                        sshd = subprocess.Popen(cluster.hosts[1].command(sshd_argv), stderr=subprocess.DEVNULL)
                        time.sleep(0.3)
                if sshd is not None:
                    sshd.terminate()
                    sshd.wait()
                results.update(_report(engine, times))
            finally:
                cluster.close()
    return results


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10)
