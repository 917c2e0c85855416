"""Requests/s and p50/p99 latency of POST /invocations: `smtoolkit serve` against a bare flask+gunicorn echo.

Both servers run the same way (gunicorn's BaseApplication in a subprocess, the same workers and worker
class) on loopback. The load is a closed loop of threads, each with its own keep-alive http.client
connection, sending a 4-row CSV for a fixed time; a side thread measures GET /ping under that load.

    .venv/bin/python bench/bench_serve.py [--seconds 5] [--concurrency 8] [--workers 2] [--worker-class sync]
"""

from __future__ import annotations

import argparse
import http.client
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

BODY = b"0.1,0.2,0.3,0.4\n0.5,0.6,0.7,0.8\n1.1,1.2,1.3,1.4\n1.5,1.6,1.7,1.8\n"
HEADERS = {"Content-Type": "text/csv", "Accept": "text/csv"}
IDENTITY_SCRIPT = """
class Identity:
    def predict(self, data):
        return data


def model_fn(model_dir):
    return Identity()
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def floor_main(port: int, workers: int, worker_class: str) -> None:
    """The floor: a flask app that echoes the body, under gunicorn configured like ours."""
    import flask
    from gunicorn.app.base import BaseApplication  # type: ignore[import-untyped]

    app = flask.Flask("floor")
    app.add_url_rule("/ping", "ping", lambda: "", methods=["GET"])
    app.add_url_rule(
        "/invocations",
        "invocations",
        lambda: flask.Response(flask.request.get_data(), content_type="text/csv"),
        methods=["POST"],
    )

    class Floor(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            options = {"bind": [f"127.0.0.1:{port}"], "workers": workers, "worker_class": worker_class}
            options |= {"keepalive": 5, "accesslog": None, "loglevel": "warning", "control_socket_disable": True}
            for key, value in options.items():
                if key in self.cfg.settings:
                    self.cfg.set(key, value)

        def load(self) -> flask.Flask:
            return app

    Floor().run()


def start_ours(base: Path, port: int, workers: int, worker_class: str) -> subprocess.Popen[bytes]:
    (base / "code").mkdir(parents=True)
    (base / "model").mkdir()
    (base / "code" / "inference.py").write_text(IDENTITY_SCRIPT)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SAGEMAKER_", "SM_"))}
    env |= {
        "SAGEMAKER_BASE_DIR": str(base),
        "SAGEMAKER_BIND_TO_ADDRESS": "127.0.0.1",
        "SAGEMAKER_BIND_TO_PORT": str(port),
        "SAGEMAKER_MODEL_SERVER_WORKERS": str(workers),
        "SAGEMAKER_MODEL_SERVER_WORKER_CLASS": worker_class,
        "SAGEMAKER_CONTAINER_LOG_LEVEL": "WARNING",
    }
    return subprocess.Popen([sys.executable, "-m", "smtoolkit.serve"], env=env)


def start_floor(port: int, workers: int, worker_class: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, __file__, "--floor", str(port), str(workers), worker_class])


def request(connection: http.client.HTTPConnection, method: str, path: str, body: bytes | None = None) -> int:
    connection.request(method, path, body=body, headers=HEADERS if body is not None else {})
    response = connection.getresponse()
    response.read()
    return response.status


def wait_ready(port: int, process: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}")
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        try:
            if request(connection, "GET", "/ping") == 200:
                return
        except OSError:
            pass
        finally:
            connection.close()
        time.sleep(0.05)
    raise RuntimeError("the server did not answer /ping 200 in time")


@dataclass
class Result:
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    ping_latencies: list[float] = field(default_factory=list)


def client_loop(port: int, until: float, result: Result, lock: threading.Lock) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    latencies, errors = [], 0
    try:
        while (start := time.perf_counter()) < until:
            try:
                ok = request(connection, "POST", "/invocations", BODY) == 200
            except (OSError, http.client.HTTPException):
                ok = False
                connection.close()  # the next request opens a new connection
            if ok:
                latencies.append(time.perf_counter() - start)
            else:
                errors += 1
    finally:
        connection.close()
    with lock:
        result.latencies.extend(latencies)
        result.errors += errors


def ping_loop(port: int, until: float, result: Result) -> None:
    while (start := time.perf_counter()) < until:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        try:
            status = request(connection, "GET", "/ping")
        except OSError:
            status = 0
        finally:
            connection.close()
        result.ping_latencies.append(time.perf_counter() - start if status == 200 else float("inf"))
        time.sleep(0.1)


def run_load(port: int, seconds: float, concurrency: int) -> Result:
    result, lock = Result(), threading.Lock()
    until = time.perf_counter() + seconds
    threads = [threading.Thread(target=client_loop, args=(port, until, result, lock)) for _ in range(concurrency)]
    threads.append(threading.Thread(target=ping_loop, args=(port, until, result)))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return result


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else float("nan")


def summary(name: str, results: list[Result], seconds: float) -> float:
    """One line for a server over its rounds; returns the median requests/s."""
    rates = [len(result.latencies) / seconds for result in results]
    latencies = [latency for result in results for latency in result.latencies]
    pings = [ping for result in results for ping in result.ping_latencies]
    print(
        f"{name:<16} {statistics.median(rates):8.0f} req/s (rounds: {', '.join(f'{r:.0f}' for r in rates)})   "
        f"p50 {statistics.median(latencies) * 1e3:5.2f} ms   p99 {percentile(latencies, 0.99) * 1e3:5.2f} ms   "
        f"errors {sum(result.errors for result in results)}   /ping under load: max {max(pings) * 1e3:.1f} ms"
    )
    return statistics.median(rates)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=5.0, help="length of one round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per server, alternating (noise)")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--worker-class", choices=["sync", "gthread"], default="sync")
    args = parser.parse_args()
    seconds, rounds, concurrency = float(args.seconds), int(args.rounds), int(args.concurrency)
    print(
        f"POST /invocations, 4-row CSV, identity model, {args.workers} {args.worker_class} workers, "
        f"{concurrency} keep-alive clients, {rounds} x {seconds:g} s each, "
        f"{os.cpu_count()} CPUs shared with the clients"
    )
    with tempfile.TemporaryDirectory() as tmp:
        ports = {"smtoolkit serve": free_port(), "flask echo": free_port()}
        servers = {
            "smtoolkit serve": start_ours(Path(tmp), ports["smtoolkit serve"], args.workers, args.worker_class),
            "flask echo": start_floor(ports["flask echo"], args.workers, args.worker_class),
        }
        results: dict[str, list[Result]] = {name: [] for name in servers}
        try:
            for name, process in servers.items():
                wait_ready(ports[name], process)
                run_load(ports[name], 1.0, concurrency)  # warm-up: connections, lazy imports, caches
            for _ in range(rounds):
                for name in servers:
                    results[name].append(run_load(ports[name], seconds, concurrency))
        finally:
            for process in servers.values():
                process.send_signal(signal.SIGTERM)
            for process in servers.values():
                process.wait(30)
    ours, floor = (summary(name, results[name], seconds) for name in servers)
    print(f"ratio smtoolkit / floor (medians): {ours / floor:.2f}")
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["--floor"]:
        floor_main(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4])
    else:
        sys.exit(main())
