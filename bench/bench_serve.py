"""POST /invocations under wrk on loopback: `smtoolkit serve` against a bare flask+gunicorn echo app and
sagemaker-containers' serving stack, in the same run.

- smtoolkit serve: `python -m smtoolkit.serve`, an identity model (model_fn + predict_fn), CSV decoded and encoded.
- flask echo (the practical limit): flask + gunicorn through BaseApplication, the same worker class and count,
  the body echoed as is.
- sagemaker-containers 2.8.6.post2 (Python 3.8 venv under bench/.venvs, made on first use): its Worker +
  Transformer app with the same identity script, started with the gunicorn command line its `_server.start`
  uses without nginx (gevent, --worker-connections 1000 x workers), bound to 127.0.0.1 instead of 0.0.0.0.

wrk keeps `--connections` keep-alive connections busy for `--seconds`, round after round, the servers
interleaved so that machine noise hits each alike; a side thread measures GET /ping meanwhile. The load
generator shares the machine's CPUs with the servers.

    .venv/bin/python -m bench.bench_serve [--seconds 8] [--rounds 3] [--connections 16] [--no-sagemaker-containers]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from bench.serve_targets import free_port, start_floor, start_ours, start_sagemaker_containers

BODY = "0.1,0.2,0.3,0.4\n0.5,0.6,0.7,0.8\n1.1,1.2,1.3,1.4\n1.5,1.6,1.7,1.8\n"
WRK_SCRIPT = """
wrk.method = "POST"
wrk.body = "{body}"
wrk.headers["Content-Type"] = "text/csv"
wrk.headers["Accept"] = "text/csv"

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'RESULT {{"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, "max_us": %d, ' ..
    '"status_errors": %d, "socket_errors": %d}}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), latency.max,
    e.status, e.connect + e.read + e.write + e.timeout))
end
"""


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


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=8.0, help="length of one wrk round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per server, interleaved")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--worker-class", choices=["sync", "gthread"], default="sync")
    parser.add_argument("--worker-threads", type=int, default=1, help="threads per gthread worker")
    parser.add_argument("--no-sagemaker-containers", action="store_true", help="skip the Python 3.8 baseline")
    parser.add_argument(
        "--pin",
        action="store_true",
        help="servers on the first half of the CPUs, wrk on the other (taskset), so that wrk's own cost per "
        "request (reconnecting to sync workers, or not) does not decide the req/s",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args([] if argv is None else argv)
    if shutil.which("wrk") is None:
        print("wrk is not installed (apt-get install wrk); skipping")
        return 0
    server_cpus, wrk_cpus = cpu_split(args.pin)
    server_prefix = ["taskset", "-c", server_cpus] if server_cpus else []
    print(
        f"wrk -t{args.threads} -c{args.connections}, POST /invocations with a 4-row CSV, identity model, "
        f"{args.workers} workers, {args.rounds} x {args.seconds:g} s per server, "
        + (
            f"servers on CPUs {server_cpus}, wrk on CPUs {wrk_cpus}"
            if server_cpus
            else f"{os.cpu_count()} CPUs shared with wrk"
        )
    )
    kind = args.worker_class + (f" x{args.worker_threads}" if args.worker_threads > 1 else "")
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "post.lua"
        script.write_text(WRK_SCRIPT.format(body=BODY.replace("\n", "\\n")))
        starters: dict[str, Callable[[int], subprocess.Popen[bytes]]] = {
            f"smtoolkit serve ({kind})": lambda port: start_ours(
                Path(tmp) / "ours", port, args.workers, args.worker_class, args.worker_threads, server_prefix
            ),
            f"flask echo ({kind})": lambda port: start_floor(
                port, args.workers, args.worker_class, args.worker_threads, server_prefix
            ),
        }
        if not args.no_sagemaker_containers:
            starters["sagemaker-containers (gevent)"] = lambda port: start_sagemaker_containers(
                Path(tmp) / "sc", port, args.workers, server_prefix
            )
        results = run_servers(starters, args, script, ["taskset", "-c", wrk_cpus] if wrk_cpus else [])
    report(results, args)
    return 0


def cpu_split(pin: bool) -> tuple[str, str]:
    """("0", "1")-like CPU lists for servers and wrk when pinning (and two CPUs or more are ours), else ("", "")."""
    cpus = sorted(os.sched_getaffinity(0))
    if not pin or len(cpus) < 2 or shutil.which("taskset") is None:
        return "", ""
    half = len(cpus) // 2
    return ",".join(map(str, cpus[:half])), ",".join(map(str, cpus[half:]))


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
        for process in processes.values():
            process.send_signal(signal.SIGTERM)
        for process in processes.values():
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    return results


def report(results: Mapping[str, list[Round]], args: argparse.Namespace) -> None:
    figures = {name: summary(name, rounds) for name, rounds in results.items()}
    names = list(figures)
    ours = figures.get(names[0]) if names else None
    if ours is None or not names[0].startswith("smtoolkit"):
        return
    for other in names[1:]:
        theirs = figures[other]
        # Rounds run back to back, server after server: the ratio within a round shares that moment's noise.
        paired = statistics.median(o.rate / t.rate for o, t in zip(results[names[0]], results[other], strict=True))
        print(
            f"smtoolkit / {other}: req/s x{ours.rate / theirs.rate:.2f} (medians), x{paired:.2f} (median of "
            f"per-round ratios); server CPU per request x{ours.cpu_us / theirs.cpu_us:.2f}"
        )
    print(f"smtoolkit p99 at {args.connections} connections: {ours.p99_ms:.2f} ms (goal < 20 ms)")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
