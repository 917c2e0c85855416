"""Adaptive batching and multi-model endpoints over HTTP: real `serve` (gunicorn, async class) under wrk.

- Batching: a model costing 10 ms per call plus 0.05 ms per row, one call at a time (one device), 64 connections,
  batch_predict_fn against predict_fn. Goals from issue #13: >= 5x the throughput; p99 <= max wait + 2 calls.
- MME: invocations spread over 50 loaded models against a single-model endpoint serving the same script
  (goal <= 1.1x the time per request), and how soon a load made through one worker is answered by every worker
  (goal < 1 s).

Run: `python -m bench.bench_mme_http`.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.serve_load import server_cpu_seconds, wait_ready
from bench.serve_targets import base_environ, free_port

CALL_MS, ROW_MS, MAX_WAIT_MS, CONNECTIONS, SECONDS = 10.0, 0.05, 10.0, 64, 5
COSTLY = f"""
import threading, time
DEVICE = threading.Lock()

def model_fn(model_dir):
    return None

def run(rows):
    with DEVICE:
        time.sleep({CALL_MS / 1000} + {ROW_MS / 1000} * len(rows))
    return rows
"""
BATCHED = COSTLY + "\ndef batch_predict_fn(batch, model):\n    return run(batch)\n"
UNBATCHED = COSTLY + "\ndef predict_fn(data, model):\n    return run([data])[0]\n"
SMALL = (
    "import os\n\ndef model_fn(model_dir):\n    return os.getpid()\n\ndef predict_fn(data, model):\n    return model\n"
)
MODELS = 50
LUA = """
wrk.method = "POST"
wrk.body = "[1, 2, 3, 4]"
wrk.headers["Content-Type"] = "application/json"
request = function()
  return wrk.format(nil, PATH)
end
"""


def start(base: Path, script: str, **env: str) -> tuple[subprocess.Popen[bytes], int]:
    (base / "code").mkdir(parents=True)
    (base / "model").mkdir()
    (base / "code" / "inference.py").write_text(script)
    port = free_port()
    environ = base_environ() | {
        "SAGEMAKER_BASE_DIR": str(base),
        "SAGEMAKER_BIND_TO_ADDRESS": "127.0.0.1",
        "SAGEMAKER_BIND_TO_PORT": str(port),
        "SAGEMAKER_CONTAINER_LOG_LEVEL": "WARNING",
        **env,
    }
    process = subprocess.Popen([sys.executable, "-m", "smtoolkit.serve"], env=environ)
    wait_ready(port, process)
    return process, port


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    process.wait(30)


def wrk(port: int, path: str, connections: int, scratch: Path, seconds: float = SECONDS) -> tuple[float, float]:
    """(requests per second, p99 in ms) of `connections` connections POSTing to `path` (a Lua expression)."""
    script = scratch / "post.lua"
    script.write_text(LUA.replace("PATH", path))
    argv = ["wrk", "-t", "2", "-c", str(connections), "-d", f"{seconds:g}s", "--latency", "-s", str(script)]
    output = subprocess.run([*argv, f"http://127.0.0.1:{port}"], capture_output=True, text=True, check=True).stdout
    if "Non-2xx" in output:
        raise RuntimeError(f"errors under load:\n{output}")
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    value, unit = re.search(r"99%\s+([\d.]+)(us|ms|s)", output).groups()  # type: ignore[union-attr]
    return rate, float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def costed(process: subprocess.Popen[bytes], port: int, path: str, scratch: Path) -> tuple[float, float]:
    """(requests per second, the server's CPU microseconds per request) of one wrk round, 16 connections."""
    before = server_cpu_seconds(process.pid)
    rate, _ = wrk(port, path, 16, scratch)
    return rate, (server_cpu_seconds(process.pid) - before) / (rate * SECONDS) * 1e6


def request(port: int, method: str, path: str, body: bytes = b"1") -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request(method, path, body=body, headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def batching(scratch: Path, rounds: int = 3) -> dict[str, float]:
    """Both servers up at once, measured in turns after a warm-up round each (the first seconds of a worker
    include its thread pool filling and its routes' placement being learnt: reported apart)."""
    env = {"SAGEMAKER_MODEL_SERVER_WORKERS": "1", "SAGEMAKER_MODEL_SERVER_THREADS": str(CONNECTIONS)}
    env |= {"SAGEMAKER_MAX_BATCH_SIZE": str(CONNECTIONS), "SAGEMAKER_MAX_BATCH_WAIT_MS": str(MAX_WAIT_MS)}
    scripts = {"unbatched": UNBATCHED, "batched": BATCHED}
    servers = {name: start(scratch / name, script, **env) for name, script in scripts.items()}
    try:
        warm = {name: wrk(port, '"/invocations"', CONNECTIONS, scratch, 2) for name, (_, port) in servers.items()}
        measured = {name: list[tuple[float, float]]() for name in servers}
        for _ in range(rounds):
            for name, (_, port) in servers.items():
                measured[name].append(wrk(port, '"/invocations"', CONNECTIONS, scratch))
    finally:
        for process, _ in servers.values():
            stop(process)
    plain = statistics.median(rate for rate, _ in measured["unbatched"])
    batched = statistics.median(rate for rate, _ in measured["batched"])
    p99s = [p99 for _, p99 in measured["batched"]]
    p99 = statistics.median(p99s)
    bound = MAX_WAIT_MS + 2 * (CALL_MS + ROW_MS * CONNECTIONS)
    spread = ", ".join(f"{value:.1f}" for value in p99s)
    print(f"batching: {batched:.0f} req/s batched vs {plain:.0f} unbatched: {batched / plain:.1f}x (goal >= 5x)")
    print(
        f"batching: p99 {p99:.1f} ms (rounds {spread}) vs max wait + 2 calls = {bound:.1f} ms: {p99 / bound:.2f}x "
        f"(goal <= 1x); the first 2 s of a fresh worker: p99 {warm['batched'][1]:.1f} ms"
    )
    return {"batching_speedup": batched / plain, "batching_p99_ratio": p99 / bound}


def load_visible_s(port: int, folder: Path, workers: int) -> float:
    """Seconds from POST /models until `workers` distinct workers have answered for the model."""
    started, pids = time.perf_counter(), set[int]()
    status, _ = request(port, "POST", "/models", json.dumps({"model_name": "fresh", "url": str(folder)}).encode())
    assert status == 200
    while len(pids) < workers:
        status, body = request(port, "POST", "/models/fresh/invoke")
        assert status == 200, body
        pids.add(json.loads(body))
    return time.perf_counter() - started


def multimodel(scratch: Path, rounds: int = 3) -> dict[str, float]:
    workers, env = 2, {"SAGEMAKER_MODEL_SERVER_WORKERS": "2"}
    single_process, single_port = start(scratch / "single", SMALL, **env)
    process, port = start(scratch / "mme", SMALL, SAGEMAKER_MULTI_MODEL="true", **env)
    try:
        for index in range(MODELS + 1):
            folder = scratch / "models" / f"m{index}"
            folder.mkdir(parents=True)
            (folder / "weights").write_text(str(index))
            if index < MODELS:
                load = json.dumps({"model_name": f"m{index}", "url": str(folder)}).encode()
                assert request(port, "POST", "/models", load)[0] == 200
        singles, manys = [], []
        for _ in range(rounds):  # in turns, so the shared machine's noise falls on both alike
            singles.append(costed(single_process, single_port, '"/invocations"', scratch))
            manys.append(costed(process, port, f'"/models/m" .. math.random(0, {MODELS - 1}) .. "/invoke"', scratch))
        visible = load_visible_s(port, scratch / "models" / f"m{MODELS}", workers)
    finally:
        stop(process)
        stop(single_process)
    single, many = (statistics.median(rate for rate, _ in runs) for runs in (singles, manys))
    single_cpu, many_cpu = (statistics.median(cpu for _, cpu in runs) for runs in (singles, manys))
    print(f"mme: {many:.0f} req/s among {MODELS} models vs {single:.0f} single-model: {single / many:.2f}x the time")
    print(
        f"mme: server CPU per request {many_cpu:.0f} us vs {single_cpu:.0f} us: {many_cpu / single_cpu:.2f}x "
        "(the steadier figure on a shared machine; goal <= 1.1x)"
    )
    print(f"mme: a load answered by all {workers} workers after {visible * 1000:.0f} ms (goal < 1000 ms)")
    return {"mme_cost_ratio": single / many, "mme_cpu_ratio": many_cpu / single_cpu, "mme_load_visible_s": visible}


def main() -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp)
        return {**batching(scratch), **multimodel(scratch)}


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
