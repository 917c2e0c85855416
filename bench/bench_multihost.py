"""A 2-host job (2 processes a host, one all_reduce, then exit) on two network-namespace hosts: `train` on
both hosts against plain `torchrun` / `mpirun` typed by hand on the same namespaces, in the same run.

The plain runs are what a competent user types: torchrun with a static rendezvous on each host; for MPI,
sshd on the worker, then on the master a loop until sshd answers and `mpirun` with the interface, ssh and
binding options it needs (`python -m mpi4py script`), then sshd stopped. `train` does all of that itself
(its worker starts its own sshd), so both sides do the same work. "mpi-sshd-up" isolates the launcher's
own cost: sshd already running on the worker (as an image may run it), plain mpirun against `train` told
not to start sshd (SMTOOLKIT_SSHD_COMMAND empty), and "tuned": plain mpirun with the options train adds
(pml ob1...), so the launcher's cost shows apart from what its options save. The jobs alternate which goes
first. A run that has not ended within HANG_TIMEOUT_S counts as a hang (and is killed). sagemaker-training
5.1.4 is not run: its MPI path alone sleeps 30 s on the master and 30 s or more on each worker (reference
training_toolkits.md §5.2).
Needs root. Run: make bench (or .venv/bin/python -m bench.bench_multihost [runs] [engine,...]).
"""

from __future__ import annotations

import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

from tests.integration.multihost.cluster import Cluster, make_ssh_keys

HANG_TIMEOUT_S = 60.0
AWS_MPI_FIXED_WAITS_S = 30.0
PORT = "29400"
ENGINES = ("torchrun", "mpi", "mpi-sshd-up")

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
# The options train adds to mpirun (backends/mpi.py): "tuned" runs them by hand, to show the launcher's own cost.
TUNED_MPI_OPTIONS = ["-map-by", "slot", "-mca", "pml", "ob1", "-mca", "btl_vader_single_copy_mechanism", "none"]
TUNED_MPI_OPTIONS += ["-mca", "plm_rsh_no_tree_spawn", "1"]
# What a user types on the master to wait for the worker's sshd before mpirun.
WAIT_THEN_RUN = 'until (: </dev/tcp/"$0"/"$1") 2>/dev/null; do sleep 0.02; done; shift; exec "$@"'

Job = Callable[[list["subprocess.Popen[bytes]"]], list[int]]


def _timed(job: Job) -> float | None:
    """Wall time of `job` (which starts processes into the list it gets and returns their exit codes); None
    for a hang: still running after HANG_TIMEOUT_S, when everything it started is killed."""
    started: list[subprocess.Popen[bytes]] = []
    hung = threading.Event()

    def kill() -> None:
        hung.set()
        for process in list(started):
            process.kill()

    watchdog = threading.Timer(HANG_TIMEOUT_S, kill)
    start = time.perf_counter()
    watchdog.start()
    try:
        codes = job(started)
    finally:
        watchdog.cancel()
        for process in started:
            if process.poll() is None:
                process.kill()
            process.wait()
    elapsed = time.perf_counter() - start
    if hung.is_set():
        return None
    if any(codes):
        raise RuntimeError(f"a run failed: exit codes {codes}")
    return elapsed


class Bench:
    def __init__(self, cluster: Cluster, ssh: dict[str, str], environ: dict[str, str]) -> None:
        self.cluster = cluster
        self.ssh = ssh
        self.environ = environ
        self.script = str(cluster.hosts[0].base / "code" / "train.py")

    def _spawn(self, index: int, argv: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        command = self.cluster.hosts[index].command(argv)
        return subprocess.Popen(command, env=env or self.environ, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def sshd(self) -> subprocess.Popen[bytes]:
        argv = [*shlex.split(self.ssh["SMTOOLKIT_SSHD_COMMAND"]), "-p", self.ssh["SMTOOLKIT_SSH_PORT"]]
        return self._spawn(1, argv)

    def mpirun_argv(self, tuned: bool = False) -> list[str]:
        rsh = shlex.join(["-p", self.ssh["SMTOOLKIT_SSH_PORT"], *shlex.split(self.ssh["SMTOOLKIT_SSH_OPTIONS"])])
        argv = ["mpirun", "--host", "algo-1:2,algo-2:2", "-np", "4", "--allow-run-as-root", "-bind-to", "none"]
        argv += ["-mca", "plm_rsh_args", rsh, "-mca", "btl_tcp_if_include", "eth0", "-mca", "oob_tcp_if_include"]
        argv += ["eth0", *(TUNED_MPI_OPTIONS if tuned else [])]
        return [*argv, sys.executable, "-m", "mpi4py", self.script]

    def plain_torchrun(self, started: list[subprocess.Popen[bytes]]) -> list[int]:
        env = {**self.environ, "GLOO_SOCKET_IFNAME": "eth0"}
        for rank in range(2):
            argv = [sys.executable, "-m", "torch.distributed.run", "--nnodes", "2", "--node_rank", str(rank)]
            argv += ["--nproc_per_node", "2", "--master_addr", "algo-1", "--master_port", PORT, self.script]
            started.append(self._spawn(rank, argv, env))
        return [process.wait() for process in started]

    def plain_mpirun(self, started: list[subprocess.Popen[bytes]]) -> list[int]:
        started.append(sshd := self.sshd())
        port = self.ssh["SMTOOLKIT_SSH_PORT"]
        started.append(master := self._spawn(0, ["bash", "-c", WAIT_THEN_RUN, "algo-2", port, *self.mpirun_argv()]))
        code = master.wait()
        sshd.terminate()
        sshd.wait()
        return [code]

    def plain_mpirun_sshd_up(self, started: list[subprocess.Popen[bytes]], tuned: bool = False) -> list[int]:
        started.append(master := self._spawn(0, self.mpirun_argv(tuned)))
        return [master.wait()]

    def train(self, extra: dict[str, str]) -> Job:
        def job(started: list[subprocess.Popen[bytes]]) -> list[int]:
            for host in reversed(self.cluster.hosts):
                started.append(self.cluster.train(host, extra))
            return [process.wait() for process in started]

        return job


def _report(engine: str, times: dict[str, list[float | None]]) -> dict[str, float]:
    ok = {name: [t for t in values if t is not None] for name, values in times.items()}
    hangs = {name: sum(t is None for t in values) for name, values in times.items()}
    medians = {name: statistics.median(values) if values else float("nan") for name, values in ok.items()}
    for name in times:
        low, high = min(ok[name], default=float("nan")), max(ok[name], default=float("nan"))
        print(
            f"{engine:<12} {name:<6} median {medians[name]:6.2f} s   min {low:6.2f} s   max {high:6.2f} s"
            f"   hangs {hangs[name]}/{len(times[name])}"
        )
    ratio = medians["train"] / medians["plain"]
    if engine == "torchrun":
        aws = "sagemaker-training 5.1.4's torchrun path has no fixed waits (a DNS wait only)"
    else:
        aws = f"sagemaker-training 5.1.4 adds >= {AWS_MPI_FIXED_WAITS_S:.0f} s of fixed sleeps to an MPI job"
    print(f"{engine:<12} ratio train / plain: {ratio:.2f}x (goal <= 1.2x); {aws}")
    key = engine.replace("-", "_")
    extra = {}
    if "tuned" in medians:
        extra[f"{key}_ratio_to_tuned"] = tuned = medians["train"] / medians["tuned"]
        print(f"{engine:<12} ratio train / tuned (plain with train's mpirun options): {tuned:.2f}x")
    return {
        **extra,
        f"{key}_ratio": ratio,
        f"{key}_train_s": medians["train"],
        f"{key}_plain_s": medians["plain"],
        f"{key}_hangs_train": float(hangs["train"]),
        f"{key}_hangs_plain": float(hangs["plain"]),
    }


def _measure(engine: str, bench: Bench, runs: int) -> dict[str, list[float | None]]:
    extra = {**bench.ssh, "SMTOOLKIT_NPROC_PER_HOST": "2", "SM_MASTER_PORT": PORT}
    plain: Job = bench.plain_torchrun if engine == "torchrun" else bench.plain_mpirun
    sshd = None
    if engine == "mpi-sshd-up":
        plain, extra = bench.plain_mpirun_sshd_up, {**extra, "SMTOOLKIT_SSHD_COMMAND": ""}
        sshd = bench.sshd()
        time.sleep(0.5)
    jobs = {"plain": plain, "train": bench.train(extra)}
    if engine == "mpi-sshd-up":
        jobs["tuned"] = partial(bench.plain_mpirun_sshd_up, tuned=True)
    times: dict[str, list[float | None]] = {name: [] for name in jobs}
    try:
        for run in range(runs):
            for name in list(jobs) if run % 2 == 0 else list(jobs)[::-1]:
                times[name].append(_timed(jobs[name]))
    finally:
        if sshd is not None:
            sshd.terminate()
            sshd.wait()
    return times


def main(runs: int = 10, engines: tuple[str, ...] = ENGINES) -> dict[str, float]:
    results: dict[str, float] = {}
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("SM_", "SAGEMAKER_"))}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        ssh = make_ssh_keys(root / "ssh").environ
        for engine in engines:
            torch = engine == "torchrun"
            hps = {"sagemaker_torch_distributed_enabled" if torch else "sagemaker_mpi_enabled": "true"}
            cluster = Cluster(root / engine)
            try:
                cluster.start(2)
                cluster.write_jobs(
                    {"sagemaker_program": "train.py", **hps}, {"train.py": TORCH_SCRIPT if torch else MPI_SCRIPT}
                )
                results.update(_report(engine, _measure(engine, Bench(cluster, ssh, environ), runs)))
            finally:
                cluster.close()
    return results


if __name__ == "__main__":
    main(
        int(sys.argv[1]) if len(sys.argv) > 1 else 10,
        tuple(sys.argv[2].split(",")) if len(sys.argv) > 2 else ENGINES,
    )
