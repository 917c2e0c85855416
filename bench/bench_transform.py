"""Batch transform throughput: `smtoolkit transform` against the server's raw capacity and SDK v2 local mode.

One `smtoolkit serve` (identity transform_fn, N workers) on loopback serves three clients in turn:
  raw capacity   N keep-alive threads POSTing ready-made 6 MiB bodies of whole CSV lines (no splitting,
                 no files): the most records/s this server can take;
  smtoolkit      `transform` on a generated CSV (default 1 GiB), Line / MultiRecord / 6 MiB / N concurrent,
                 written to .out files; wall time of the whole command, and its peak RSS;
  SDK v2 local   sagemaker<3's own LineSplitter + MultiRecordStrategy and LocalSagemakerRuntimeClient, in
                 the loop of _LocalTransformJob._perform_batch_inference (one request at a time), on the
                 first --sdk-mb MiB of the same CSV (its MultiRecord packing copies the growing batch for
                 every line, so the whole file would take hours); records/s compares directly.

    .venv/bin/python -m bench.bench_transform [--size-mb 1024] [--workers 2] [--sdk-mb 6]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from bench.common import base_environ, toolkit_python

SDK_REQUIREMENT = "sagemaker<3"
MIB = 1024 * 1024
IDENTITY = """
def model_fn(model_dir):
    return None


def transform_fn(model, body, content_type, accept):
    return body, accept
"""
TRANSFORM_DRIVER = """
import resource, sys
from smtoolkit.logs import configure_logging
from smtoolkit.transform.command import transform_command
configure_logging("INFO")  # as the composition root (smtoolkit.entry) does: the summary is a log line
try:
    transform_command.main(sys.argv[1:], prog_name="transform")
finally:
    print("MAXRSS_KIB", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)
"""
SDK_DRIVER = """
import json, os, sys, time
from sagemaker.local.data import get_batch_strategy_instance, get_splitter_instance
from sagemaker.local.local_session import LocalSagemakerRuntimeClient

path, out, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
client = LocalSagemakerRuntimeClient({"local": {"serving_port": port}})
strategy = get_batch_strategy_instance("MultiRecord", get_splitter_instance("Line"))
started, records = time.perf_counter(), 0
with open(out, "wb") as f:  # as _LocalTransformJob._perform_batch_inference writes it
    for item in strategy.pad(path, 6):
        response = client.invoke_endpoint(item, "", "text/csv", "text/csv")
        body = response["Body"]
        f.write(body.read())
        body.close()
        f.write(b"\\n")
        records += item.count("\\n")
print(json.dumps({"records": records, "seconds": time.perf_counter() - started}))
"""


def make_csv(path: Path, size: int) -> int:
    """Rows of 8 numeric features; returns the row count."""
    block = "".join(
        f"{i},{i * 0.25:.2f},{i % 97},{i * 1.5:.1f},{i % 13},0.{i % 1000:03d},{-i},{i % 7}\n" for i in range(20_000)
    )
    data, rows = block.encode(), 0
    with path.open("wb") as out:
        while out.tell() + len(data) <= size:
            out.write(data)
            rows += 20_000
    return rows


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_server(base: Path, port: int, workers: int) -> subprocess.Popen[bytes]:
    (base / "code").mkdir(parents=True)
    (base / "model").mkdir()
    (base / "code" / "inference.py").write_text(IDENTITY)
    env = base_environ() | {
        "SAGEMAKER_BASE_DIR": str(base),
        "SAGEMAKER_BIND_TO_ADDRESS": "127.0.0.1",
        "SAGEMAKER_BIND_TO_PORT": str(port),
        "SAGEMAKER_MODEL_SERVER_WORKERS": str(workers),
        "SAGEMAKER_CONTAINER_LOG_LEVEL": "WARNING",
    }
    return subprocess.Popen([sys.executable, "-m", "smtoolkit.serve"], env=env)


def wait_ready(port: int) -> None:
    from smtoolkit.transform.client import wait_for_ping

    wait_for_ping("127.0.0.1", port, 60)


def six_mib_bodies(path: Path, count: int = 4) -> list[tuple[bytes, int]]:
    bodies = []
    with path.open("rb") as stream:
        for _ in range(count):
            chunk = stream.read(6 * MIB)
            cut = chunk.rfind(b"\n") + 1
            stream.seek(cut - len(chunk), os.SEEK_CUR)
            bodies.append((chunk[:cut], chunk.count(b"\n", 0, cut)))
    return bodies


def raw_capacity(port: int, bodies: list[tuple[bytes, int]], threads: int, seconds: float) -> float:
    """Records/s with `threads` keep-alive clients sending ready-made bodies for `seconds`."""
    totals: list[int] = []
    lock, until = threading.Lock(), time.perf_counter() + seconds

    def loop(offset: int) -> None:
        connection, records, index = http.client.HTTPConnection("127.0.0.1", port, timeout=60), 0, offset
        headers = {"Content-Type": "text/csv", "Accept": "text/csv"}
        try:
            while time.perf_counter() < until:
                body, count = bodies[index % len(bodies)]
                connection.request("POST", "/invocations", body=body, headers=headers)
                response = connection.getresponse()
                if response.status == 200 and len(response.read()) >= len(body) - 1:
                    records += count
                index += 1
        finally:
            connection.close()
        with lock:
            totals.append(records)

    started = time.perf_counter()
    workers = [threading.Thread(target=loop, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return sum(totals) / (time.perf_counter() - started)


def run_transform(port: int, source: Path, out: Path, workers: int) -> tuple[float, int, float]:
    """(wall seconds of the whole command, its peak RSS in KiB, seconds of the job itself from its summary)"""
    argv = [sys.executable, "-c", TRANSFORM_DRIVER, "--endpoint", f"http://127.0.0.1:{port}", "--input", str(source)]
    argv += ["--output", str(out), "--split-type", "Line", "--batch-strategy", "MultiRecord", "--max-payload-mb", "6"]
    argv += ["--max-concurrent", str(workers), "--content-type", "text/csv", "--accept", "text/csv"]
    argv += ["--assemble-with", "Line", "--no-progress"]
    started = time.perf_counter()
    result = subprocess.run(argv, capture_output=True, text=True, check=False, env=base_environ())
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise RuntimeError(f"transform failed:\n{result.stderr[-3000:]}")
    job_seconds = float(result.stderr.split(" files transformed, ", 1)[1].split(" in ", 1)[1].split(" s ", 1)[0])
    return elapsed, int(result.stderr.rsplit("MAXRSS_KIB", 1)[1].split()[0]), job_seconds


def run_sdk(port: int, source: Path, out: Path) -> tuple[int, float]:
    python = toolkit_python(SDK_REQUIREMENT, "sagemaker-v2")
    env = base_environ() | {"SAGEMAKER_SUPPRESS_V2_WARNING": "1"}
    result = subprocess.run(
        [str(python), "-c", SDK_DRIVER, str(source), str(out), str(port)], capture_output=True, text=True, env=env
    )
    if result.returncode != 0:
        raise RuntimeError(f"SDK local mode failed:\n{result.stderr[-3000:]}")
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    return int(figures["records"]), float(figures["seconds"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mb", type=int, default=1024, help="generated CSV size (MiB)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2, help="server workers = concurrency")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of the raw-capacity run")
    parser.add_argument("--tmp-dir", help="where the CSV and outputs go (default /dev/shm: no disk writeback noise)")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds of raw capacity and smtoolkit")
    parser.add_argument("--sdk-mb", type=int, default=6, help="MiB of the CSV given to SDK local mode (0: skip)")
    args = parser.parse_args(argv if argv is not None else [])
    scratch = args.tmp_dir or ("/dev/shm" if os.path.isdir("/dev/shm") else None)
    with tempfile.TemporaryDirectory(prefix="bench-transform-", dir=scratch) as tmp:
        base = Path(tmp)
        source = base / "in" / "data.csv"
        source.parent.mkdir()
        rows = make_csv(source, args.size_mb * MIB)
        size = source.stat().st_size
        print(
            f"{size / MIB:.0f} MiB CSV ({rows} rows) in {tmp}; identity transform_fn; "
            f"{args.workers} workers = concurrency; {os.cpu_count()} CPUs shared by server and client"
        )
        port = free_port()
        server = start_server(base / "job", port, args.workers)
        try:
            wait_ready(port)
            bodies = six_mib_bodies(source)
            raw_capacity(port, bodies, args.workers, 1.0)  # warm-up
            raws, runs = [], []
            for round_ in range(args.rounds):  # alternating, so machine noise hits both alike
                raws.append(raw_capacity(port, bodies, args.workers, args.seconds))
                runs.append(run_transform(port, source, base / f"out{round_}", args.workers))
                assert (base / f"out{round_}" / "data.csv.out").stat().st_size == size
                shutil.rmtree(base / f"out{round_}")
            raw = statistics.median(raws)
            elapsed = statistics.median(elapsed for elapsed, _, _ in runs)
            job = statistics.median(job for _, _, job in runs)
            rss_kib = max(rss for _, rss, _ in runs)
            ours = rows / elapsed
            print(f"raw capacity     {raw:12,.0f} records/s  (6 MiB bodies, {args.workers} keep-alive clients; median)")
            print(
                f"smtoolkit        {ours:12,.0f} records/s  "
                f"({elapsed:.1f} s whole command, median; peak RSS {rss_kib / 1024:.0f} MiB)"
            )
            print(f"  the job alone    {rows / job:12,.0f} records/s  ({job:.1f} s: no start-up, /ping or listing)")
            print(
                f"ratio smtoolkit / raw capacity: {ours / raw:.2f} whole command, {rows / job / raw:.2f} job alone  "
                f"(rounds: raw {', '.join(f'{r:,.0f}' for r in raws)}; "
                f"smtoolkit {', '.join(f'{rows / e:,.0f}' for e, _, _ in runs)})"
            )
            if args.sdk_mb:
                prefix = base / "sdk.csv"
                with source.open("rb") as whole:
                    head = whole.read(args.sdk_mb * MIB)
                prefix.write_bytes(head[: head.rfind(b"\n") + 1])
                records, seconds = run_sdk(port, prefix, base / "sdk.out")
                sdk = records / seconds
                mib = prefix.stat().st_size / MIB
                print(f"SDK v2 local     {sdk:12,.0f} records/s  ({records} records, {mib:.1f} MiB in {seconds:.1f} s)")
                print(f"ratio smtoolkit / SDK v2 local mode: {ours / sdk:.1f}")
        finally:
            server.terminate()
            server.wait(30)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
