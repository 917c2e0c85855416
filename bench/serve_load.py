"""The load side of bench_serve: wrk rounds against a server, interleaved over servers, with /ping timed
meanwhile and the server's CPU time per request."""

from __future__ import annotations

import argparse
import http.client
import json
import signal
import statistics
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from bench.serve_targets import free_port

Starter = Callable[[int], "subprocess.Popen[bytes]"]


# The load.
def get(port: int, path: str, timeout: float = 5) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def wait_ready(port: int, process: subprocess.Popen[bytes], timeout: float = 60, path: str = "/ping") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}")
        try:
            if get(port, path, 2) == 200:
                return
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"the server did not answer {path} 200 in time")


@dataclass
class Round:
    rate: float
    p50_ms: float
    p99_ms: float
    errors: int
    cpu_us: float  # the server's CPU time (master and workers) per request: robust to other load on the machine
    pings_ms: list[float] = field(default_factory=list)


def server_cpu_seconds(pid: int) -> float:
    total = 0.0
    try:
        root = psutil.Process(pid)
        for process in (root, *root.children(recursive=True)):
            times = process.cpu_times()
            total += times.user + times.system
    except psutil.NoSuchProcess:
        pass
    return total


def ping_loop(port: int, stop: threading.Event, pings: list[float], path: str = "/ping") -> None:
    while not stop.wait(0.1):
        started = time.perf_counter()
        try:
            ok = get(port, path) == 200
        except OSError:
            ok = False
        pings.append((time.perf_counter() - started) * 1e3 if ok else float("inf"))


def run_wrk(
    port: int,
    pid: int,
    seconds: float,
    connections: int,
    threads: int,
    script: Path,
    prefix: Sequence[str] = (),
    ping_path: str = "/ping",
) -> Round:
    """One wrk round on /invocations (a script may set wrk.path to load another route), pinging meanwhile."""
    argv = [*prefix, "wrk", "-t", str(threads), "-c", str(connections), "-d", f"{seconds:g}s", "-s", str(script)]
    pings: list[float] = []
    stop = threading.Event()
    pinger = threading.Thread(target=ping_loop, args=(port, stop, pings, ping_path))
    pinger.start()
    cpu_before = server_cpu_seconds(pid)
    try:
        out = subprocess.run([*argv, f"http://127.0.0.1:{port}/invocations"], capture_output=True, text=True)
    finally:
        stop.set()
        pinger.join()
    cpu = server_cpu_seconds(pid) - cpu_before
    line = next((line for line in out.stdout.splitlines() if line.startswith("RESULT ")), None)
    if out.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({out.returncode}): {out.stderr or out.stdout}")
    result = json.loads(line.removeprefix("RESULT "))
    pings_count = len(pings)
    return Round(
        rate=result["requests"] / (result["duration_us"] / 1e6),
        p50_ms=result["p50_us"] / 1e3,
        p99_ms=result["p99_us"] / 1e3,
        errors=result["status_errors"] + result["socket_errors"],
        cpu_us=cpu / max(1, result["requests"] + pings_count) * 1e6,
        pings_ms=pings,
    )


@dataclass(frozen=True)
class Figures:
    rate: float
    p50_ms: float
    p99_ms: float
    cpu_us: float


def summary(name: str, rounds: Sequence[Round]) -> Figures:
    """One line per server; returns the medians over rounds."""
    figures = Figures(
        *(statistics.median(getattr(r, key) for r in rounds) for key in ("rate", "p50_ms", "p99_ms", "cpu_us"))
    )
    pings = [ping for r in rounds for ping in r.pings_ms]
    print(
        f"{name:<30} {figures.rate:6.0f} req/s (rounds {', '.join(f'{r.rate:.0f}' for r in rounds)})  "
        f"p50 {figures.p50_ms:6.2f} ms  p99 {figures.p99_ms:6.2f} ms  server CPU {figures.cpu_us:4.0f} us/req  "
        f"errors {sum(r.errors for r in rounds)}  /ping under load: max {max(pings, default=float('nan')):.1f} ms"
    )
    return figures


def run_servers(
    starters: Mapping[str, Callable[[int], subprocess.Popen[bytes]]],
    args: argparse.Namespace,
    script: Path,
    wrk_prefix: Sequence[str],
) -> dict[str, list[Round]]:
    ports = {name: free_port() for name in starters}
    processes: dict[str, subprocess.Popen[bytes]] = {}
    results: dict[str, list[Round]] = {name: [] for name in starters}
    load = (args.connections, args.threads, script, wrk_prefix)
    try:
        for name, starter in starters.items():
            try:
                processes[name] = starter(ports[name])
                wait_ready(ports[name], processes[name])
            except (RuntimeError, OSError, subprocess.CalledProcessError) as exc:
                print(f"{name}: not measured: {exc}")
                results.pop(name)
                continue
            run_wrk(ports[name], processes[name].pid, 1.0, *load)  # warm-up
        for _ in range(args.rounds):
            for name in results:
                results[name].append(run_wrk(ports[name], processes[name].pid, args.seconds, *load))
    finally:
        stop_servers(list(processes.values()))
    return results


def stop_servers(processes: Sequence[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        process.send_signal(signal.SIGTERM)
    for process in processes:
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
