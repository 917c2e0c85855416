"""POST /invocations under wrk on loopback: `smtoolkit serve` on each worker class against a FastAPI app on
uvicorn (bench/fastapi_app.py) and sagemaker-containers 2.8.6's serving stack, in the same run; then a predict_fn
burning 5 ms of CPU, and the delay of streamed chunks.

- smtoolkit serve: `python -m smtoolkit.serve`, an identity model, a 4-row CSV decoded and encoded.
- FastAPI on uvicorn (uvloop, httptools), the same worker count, the same CSV parsed and written back.
- sagemaker-containers 2.8.6.post2 (Python 3.8 venv under bench/.venvs, made on first use): its Worker +
  Transformer app with the same identity script, started with the gunicorn command line its `_server.start`
  uses without nginx (gevent, --worker-connections 1000 x workers), bound to 127.0.0.1 instead of 0.0.0.0.

wrk keeps `--connections` connections busy for `--seconds`, round after round, the servers interleaved so that
machine noise hits each alike; a side thread measures GET /ping meanwhile. The load generator shares the
machine's CPUs with the servers unless --pin.

    .venv/bin/python -m bench.bench_serve [--seconds 8] [--rounds 3] [--only keepalive|close|cpu|stream]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from bench.serve_load import Round, Starter, run_servers, run_wrk, stop_servers, summary, wait_ready

__all__ = ["WRK_SCRIPT", "parse_args", "run_wrk", "summary", "wait_ready"]  # bench_oip drives its rounds with them
from bench.serve_stream import print_stream_delays
from bench.serve_targets import (
    CPU_SCRIPT,
    IDENTITY_SCRIPT,
    STREAM_SCRIPT,
    free_port,
    start_fastapi,
    start_ours,
    start_sagemaker_containers,
)

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


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=8.0, help="length of one wrk round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per server, interleaved")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--no-sagemaker-containers", action="store_true", help="skip the Python 3.8 baseline")
    parser.add_argument("--only", choices=["keepalive", "close", "cpu", "stream"], action="append", help="a part")
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
    prefix = ["taskset", "-c", server_cpus] if server_cpus else []
    wrk_prefix = ["taskset", "-c", wrk_cpus] if wrk_cpus else []
    where = f"servers on CPUs {server_cpus}, wrk on {wrk_cpus}" if server_cpus else f"{os.cpu_count()} CPUs shared"
    print(
        f"wrk -t{args.threads} -c{args.connections}, {args.workers} workers each, {args.rounds} x {args.seconds:g} s "
        f"rounds interleaved, {where}; figures are medians over rounds"
    )
    parts = args.only or ["keepalive", "close", "cpu", "stream"]
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp, workers = Path(tmp_name), args.workers

        def ours(name: str, worker_class: str, threads: int = 1, script: str = IDENTITY_SCRIPT) -> Starter:
            return lambda port: start_ours(tmp / f"{name}-{port}", port, workers, worker_class, threads, prefix, script)

        peers: dict[str, Starter] = {
            "smtoolkit serve (async, default)": ours("async", "async"),
            "smtoolkit serve (sync)": ours("sync", "sync"),
            "smtoolkit serve (gthread x4)": ours("gthread", "gthread", 4),
            "FastAPI on uvicorn": lambda port: start_fastapi(port, workers, prefix),
        }
        if "keepalive" in parts:
            print("\n## keep-alive: POST /invocations, a 4-row CSV decoded and encoded, identity model")
            starters = dict(peers)
            if not args.no_sagemaker_containers:
                starters["sagemaker-containers 2.8.6 (gevent)"] = lambda port: start_sagemaker_containers(
                    tmp / f"sc-{port}", port, workers, prefix
                )
            report(run_servers(starters, args, write_wrk_script(tmp, False), wrk_prefix), args)
        if "close" in parts:
            print("\n## Connection: close on every request")
            report(run_servers(peers, args, write_wrk_script(tmp, True), wrk_prefix), args)
        if "cpu" in parts:
            print("\n## predict_fn burning 5 ms of CPU (goal: >= 0.9 x workers x 200 req/s)")
            cpu = {"smtoolkit serve (async, default)": ours("cpu", "async", script=CPU_SCRIPT)}
            rounds = run_servers(cpu, args, write_wrk_script(tmp, False), wrk_prefix)
            for name, figures in rounds.items():
                rate = summary(name, figures).rate
                print(f"{name}: x{rate / (workers * 200):.2f} of workers x 200 = {workers * 200} req/s")
        if "stream" in parts:
            print("\n## streaming: the delay from each yield to its chunk's arrival (goal: < 5 ms)")
            for worker_class in ("async", "sync"):
                port = free_port()
                process = ours(f"stream-{worker_class}", worker_class, script=STREAM_SCRIPT)(port)
                try:
                    wait_ready(port, process)
                    print_stream_delays(f"smtoolkit serve ({worker_class})", port, args.rounds)
                finally:
                    stop_servers([process])
    return 0


def write_wrk_script(folder: Path, close: bool) -> Path:
    script = folder / ("post-close.lua" if close else "post.lua")
    text = WRK_SCRIPT.format(body=BODY.replace("\n", "\\n"))
    script.write_text(text + ('wrk.headers["Connection"] = "close"\n' if close else ""))
    return script


def cpu_split(pin: bool) -> tuple[str, str]:
    """("0", "1")-like CPU lists for servers and wrk when pinning (and two CPUs or more are ours), else ("", "")."""
    cpus = sorted(os.sched_getaffinity(0))
    if not pin or len(cpus) < 2 or shutil.which("taskset") is None:
        return "", ""
    half = len(cpus) // 2
    return ",".join(map(str, cpus[:half])), ",".join(map(str, cpus[half:]))


def report(results: Mapping[str, list[Round]], args: argparse.Namespace) -> None:
    """A line per server, then the default's ratios to each other server (medians, and per-round spread)."""
    figures = {name: summary(name, rounds) for name, rounds in results.items()}
    names = list(figures)
    if not names or not names[0].startswith("smtoolkit"):
        return
    ours = figures[names[0]]
    for other in names[1:]:
        # Rounds run back to back, server after server: the ratio within a round shares that moment's noise.
        ratios = [o.rate / t.rate for o, t in zip(results[names[0]], results[other], strict=True)]
        print(
            f"  {names[0]} / {other}: req/s x{ours.rate / figures[other].rate:.2f} (medians); per round "
            f"{', '.join(f'x{r:.2f}' for r in ratios)}; "
            f"server CPU per request x{ours.cpu_us / figures[other].cpu_us:.2f}"
        )
    print(f"  {names[0]} p99 at {args.connections} connections: {ours.p99_ms:.2f} ms (goal < 20 ms)")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
