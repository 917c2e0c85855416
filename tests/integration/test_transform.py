"""`smtoolkit transform` end to end: real HTTP servers on loopback (a small threaded one that answers out of
order, fails first tries and stalls on purpose, and `smtoolkit serve` itself), real files, gzip, S3 on the
seaweedfs fixture, and a large generated input processed with flat memory."""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import http.server
import json
import os
import random
import subprocess
import sys
import threading
import time
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from smtoolkit.formats import recordio
from tests.s3server import S3Server

pytestmark = pytest.mark.integration

# The child's own peak RSS is VmHWM, the high-water mark of its address space. Not ru_maxrss: Linux carries
# the old address space's high-water mark over exec, and a subprocess is forked (vforked) from this pytest
# process, so ru_maxrss is at least pytest's own peak, whatever ran before in the session.
DRIVER = """
import sys
from smtoolkit.logs import configure_logging
from smtoolkit.transform.command import transform_command
configure_logging("INFO")  # as the composition root (smtoolkit.entry) does
try:
    transform_command.main(sys.argv[1:], prog_name="transform")
finally:
    with open("/proc/self/status") as status:
        peak = next(line.split()[1] for line in status if line.startswith("VmHWM:"))
    print("PEAK_RSS_KIB", peak, file=sys.stderr)
"""


class Behaviour:
    """What the test server does; every field may be changed by a test before the run."""

    def __init__(self) -> None:
        self.seed = random.Random(7)
        self.max_delay = 0.0  # answers after a random delay: out of order under concurrency
        self.fail_first = False  # every distinct body fails its first try with 500 and an error body
        self.poison = b"POISON"  # a body holding it always fails
        self.poison_status = 500  # ... with this status
        self.stall = b"STALL"  # a body holding it gets no answer for `stall_s`
        self.stall_s = 3.0
        self.reply: bytes | None = None  # a fixed reply instead of the echo
        self.execution_parameters: dict[str, Any] | None = None
        self.seen: set[bytes] = set()  # the bodies' digests: this process must not keep GiBs of bodies
        self.requests: list[tuple[int, dict[str, str], int]] = []  # (client port, headers, body size)
        self.lock = threading.Lock()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, status: int, body: bytes, content_type: str = "text/csv") -> None:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # a client that timed out (a stall)
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            parts = []
            while size := int(self.rfile.readline().split(b";")[0], 16):
                parts.append(self.rfile.read(size))
                self.rfile.readline()
            self.rfile.readline()
            return b"".join(parts)
        return self.rfile.read(int(self.headers.get("Content-Length", 0)))

    def do_GET(self) -> None:
        behaviour = self.server.behaviour
        if self.path == "/ping":
            self._send(200, b"")
        elif self.path == "/execution-parameters" and behaviour.execution_parameters is not None:
            self._send(200, json.dumps(behaviour.execution_parameters).encode(), "application/json")
        else:
            self._send(404, b'{"message": "not found"}', "application/json")

    def do_POST(self) -> None:
        behaviour, body = self.server.behaviour, self._body()
        with behaviour.lock:
            behaviour.requests.append((self.client_address[1], dict(self.headers), len(body)))
            digest = hashlib.sha256(body).digest()
            first_try = digest not in behaviour.seen
            behaviour.seen.add(digest)
            delay = behaviour.seed.uniform(0, behaviour.max_delay)
        if behaviour.stall in body:
            time.sleep(behaviour.stall_s)
        time.sleep(delay)
        if behaviour.poison in body:
            self._send(behaviour.poison_status, b'{"message": "ERROR BODY"}', "application/json")
        elif behaviour.fail_first and first_try:
            self._send(500, b'{"message": "ERROR BODY"}', "application/json")
        else:
            self._send(200, body if behaviour.reply is None else behaviour.reply)


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.behaviour = Behaviour()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


@pytest.fixture
def server() -> Iterator[Server]:
    with Server() as running:
        thread = threading.Thread(target=running.serve_forever, kwargs={"poll_interval": 0.05})
        thread.start()
        try:
            yield running
        finally:
            running.shutdown()
            thread.join()


def transform(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", DRIVER, *args],
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def csv_rows(count: int, tag: str) -> bytes:
    return b"".join(f"{tag},{i},{i * 0.5}\n".encode() for i in range(count))


def outputs(root: Path) -> dict[str, bytes]:
    return {path.relative_to(root).as_posix(): path.read_bytes() for path in sorted(root.rglob("*")) if path.is_file()}


def test_order_kept_with_out_of_order_answers_and_first_tries_failing(server: Server, tmp_path: Path):
    inputs = {"a.csv": csv_rows(25, "a"), "sub/b.csv": csv_rows(14, "b"), "sub/deeper/c.csv": csv_rows(1, "c")}
    for name, data in inputs.items():
        write(tmp_path / "in" / name, data)
    server.behaviour.max_delay, server.behaviour.fail_first = 0.02, True
    server.behaviour.execution_parameters = {"MaxConcurrentTransforms": 4, "BatchStrategy": "SINGLE_RECORD"}
    result = transform(
        "--endpoint", server.url, "--input", str(tmp_path / "in"), "--output", str(tmp_path / "out"),
        "--split-type", "Line", "--content-type", "text/csv", "--accept", "text/csv", "--assemble-with", "Line",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert outputs(tmp_path / "out") == {f"{name}.out": data for name, data in inputs.items()}
    requests = server.behaviour.requests
    assert len(requests) == 2 * 40  # SingleRecord (from /execution-parameters): every record failed once
    assert len({port for port, _, _ in requests}) <= 4  # keep-alive: one connection per worker
    assert {headers["Content-Type"] for _, headers, _ in requests} == {"text/csv"}
    assert "3 of 3 files transformed, 40 records" in result.stderr
    assert "already holds files" not in result.stderr
    server.behaviour.fail_first = False
    again = transform(
        "--endpoint", server.url, "--input", str(tmp_path / "in" / "a.csv"), "--output", str(tmp_path / "out"),
        "--split-type", "Line",
    )  # fmt: skip
    assert again.returncode == 0, again.stderr  # the same folder again: said, not silent
    assert f"output path {tmp_path / 'out'} already holds files: outputs of the same name are replaced" in again.stderr


def test_a_failing_batch_fails_only_its_file_and_the_job(server: Server, tmp_path: Path):
    write(tmp_path / "in" / "good.csv", csv_rows(30, "g"))
    write(tmp_path / "in" / "bad.csv", csv_rows(10, "x") + b"POISON\n" + csv_rows(10, "y"))
    result = transform(
        "--endpoint", server.url, "--input", str(tmp_path / "in"), "--output", str(tmp_path / "out"),
        "--split-type", "Line", "--max-concurrent", "3", "--max-retries", "1", "--max-payload-mb", "1",
    )  # fmt: skip
    assert result.returncode == 1
    assert outputs(tmp_path / "out") == {"good.csv.out": csv_rows(30, "g")}  # no .out, no .partial for bad.csv
    assert "FAILED bad.csv: batch 1 (21 records): POST /invocations failed 2 times; last: HTTP 500" in result.stderr
    assert "1 of 2 files transformed" in result.stderr


def test_unreadable_inputs_fail_only_their_file(server: Server, tmp_path: Path):
    write(tmp_path / "in" / "ok.csv.gz", gzip.compress(b"1\n2\n"))
    write(tmp_path / "in" / "cut.csv.gz", gzip.compress(csv_rows(1000, "c"))[:-30])
    write(tmp_path / "in" / "junk.csv.gz", b"\x1f\x8b\x08\x00" + b"\xff" * 40)
    result = transform(
        "--endpoint", server.url, "--input", str(tmp_path / "in"), "--output", str(tmp_path / "out"),
        "--compression", "Gzip", "--split-type", "Line",
    )  # fmt: skip
    assert result.returncode == 1
    assert outputs(tmp_path / "out") == {"ok.csv.gz.out": b"1\n2\n"}
    assert "FAILED cut.csv.gz: reading" in result.stderr and "FAILED junk.csv.gz: reading" in result.stderr


def test_a_server_that_cannot_start_is_reported(tmp_path: Path):
    write(tmp_path / "code" / "inference.py", b"raise ImportError('broken model code')\n")
    write(tmp_path / "in" / "a.csv", b"1\n")
    result = transform(
        "--serve", "--code-dir", str(tmp_path / "code"), "--input", str(tmp_path / "in"), "--output",
        str(tmp_path / "out"), "--startup-timeout", "30",
    )  # fmt: skip
    assert result.returncode == 1
    assert "error: the model server exited before answering /ping" in result.stderr
    assert "give exactly one of --endpoint URL and --serve" in transform("--input", "x", "--output", "y").stderr


def test_a_missing_input_or_unwritable_output_exits_2_before_the_server_starts(tmp_path: Path):
    write(tmp_path / "code" / "inference.py", b"raise ImportError('never imported: nothing starts')\n")
    blocker = write(tmp_path / "a-file", b"x")
    result = transform(
        "--serve", "--code-dir", str(tmp_path / "code"), "--input", str(tmp_path / "missing"), "--output",
        str(blocker / "out"),
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert "--input (TransformInput.DataSource.S3DataSource.S3Uri): no such file or directory" in result.stderr
    assert "--output (TransformOutput.S3OutputPath): cannot write there" in result.stderr
    assert "never imported" not in result.stderr
    dry = transform(
        "--endpoint", "http://127.0.0.1:1", "--input", str(tmp_path / "missing"), "--output", "o", "--dry-run"
    )
    assert dry.returncode == 2 and "--input (TransformInput.DataSource.S3DataSource.S3Uri): no such file" in dry.stderr


def test_a_stalled_request_times_out_and_is_retried(server: Server, tmp_path: Path):
    write(tmp_path / "in" / "slow.txt", b"STALL")
    result = transform(
        "--endpoint", server.url, "--input", str(tmp_path / "in"), "--output", str(tmp_path / "out"),
        "--timeout", "1", "--max-retries", "1",
    )  # fmt: skip
    assert result.returncode == 1
    assert "no response within 1 s (InvocationsTimeoutInSeconds)" in result.stderr
    assert len(server.behaviour.requests) == 2 and outputs(tmp_path / "out") == {}


@pytest.mark.parametrize(("status", "tries"), [(415, 1), (406, 1), (400, 1), (501, 1), (429, 3), (503, 3)])
def test_only_answers_that_may_change_are_retried(server: Server, tmp_path: Path, status: int, tries: int):
    write(tmp_path / "in" / "bad.txt", b"POISON")
    server.behaviour.poison_status = status
    result = transform(
        "--endpoint", server.url, "--input", str(tmp_path / "in"), "--output", str(tmp_path / "out"),
        "--max-retries", "2",
    )  # fmt: skip
    assert result.returncode == 1
    assert f"failed {tries} time{'s' * (tries > 1)}; last: HTTP {status}" in result.stderr
    assert len(server.behaviour.requests) == tries


def test_gzip_input_chunked_bodies_and_binary_concatenation(server: Server, tmp_path: Path):
    records = [bytes([i]) * (i * 7 % 23) for i in range(40)]
    framed = recordio.frame_all(records)
    write(tmp_path / "in" / "x.rec.gz", gzip.compress(framed))
    write(tmp_path / "in" / "y.rec.gz", gzip.compress(b""))
    common = ["--endpoint", server.url, "--input", str(tmp_path / "in"), "--compression", "Gzip"]
    common += ["--split-type", "RecordIO", "--content-type", "application/x-recordio"]
    chunked = transform(*common, "--output", str(tmp_path / "chunked"), "--max-payload-mb", "0")
    assert chunked.returncode == 0, chunked.stderr
    assert outputs(tmp_path / "chunked") == {"x.rec.gz.out": framed, "y.rec.gz.out": b""}
    assert server.behaviour.requests[-1][1]["Transfer-Encoding"] == "chunked"
    single = transform(*common, "--output", str(tmp_path / "single"), "--batch-strategy", "SingleRecord")
    assert single.returncode == 0, single.stderr
    expected = b"".join(recordio.frame(record)[: 8 + len(record)] for record in records)
    assert outputs(tmp_path / "single")["x.rec.gz.out"] == expected


def test_a_request_file_and_a_bad_one(server: Server, tmp_path: Path):
    write(tmp_path / "in.jsonl", b'{"id":1,"features":[1,2]}\n{"id":2,"features":[3,4]}\n')
    request = {
        "TransformInput": {
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": str(tmp_path / "in.jsonl")}},
            "ContentType": "application/jsonlines",
            "SplitType": "Line",
        },
        "TransformOutput": {
            "S3OutputPath": str(tmp_path / "out"),
            "Accept": "application/jsonlines",
            "AssembleWith": "Line",
        },
        "DataProcessing": {
            "InputFilter": "$.features",
            "JoinSource": "Input",
            "OutputFilter": "$['id','SageMakerOutput']",
        },
    }
    write(tmp_path / "job.json", json.dumps(request).encode())
    result = transform("--endpoint", server.url, "--request", str(tmp_path / "job.json"))
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "out" / "in.jsonl.out").read_bytes() == (
        b'{"id":1,"SageMakerOutput":[1,2]}\n{"id":2,"SageMakerOutput":[3,4]}\n'
    )
    write(tmp_path / "bad.json", b'{"TransformInput": {}}')
    bad = transform("--endpoint", server.url, "--request", str(tmp_path / "bad.json"))
    assert bad.returncode == 2
    assert "bad.json: TransformInput.DataSource: required field is missing" in bad.stderr


IDENTITY_SCRIPT = """
def model_fn(model_dir):
    return None


def transform_fn(model, body, content_type, accept):
    if content_type == "text/csv":  # the label: the sum of the row's numbers
        rows = [line.split(",") for line in (body if isinstance(body, str) else body.decode()).splitlines()]
        return "".join(f"{sum(float(v) for v in row):g}\\n" for row in rows), accept
    return body, accept
"""


def test_serve_runs_the_model_server_for_the_job_with_data_processing(tmp_path: Path):
    write(tmp_path / "code" / "inference.py", IDENTITY_SCRIPT.encode())
    (tmp_path / "model").mkdir()
    write(tmp_path / "in" / "rows.csv", b"id1,1,2\nid2,3,4\n")
    result = transform(
        "--serve", "--model-dir", str(tmp_path / "model"), "--code-dir", str(tmp_path / "code"), "--workers", "1",
        "--input", str(tmp_path / "in"), "--output", str(tmp_path / "out"), "--split-type", "Line",
        "--content-type", "text/csv", "--accept", "text/csv", "--assemble-with", "Line",
        "--input-filter", "$[1:]", "--join-source", "Input", "--output-filter", "$[0,-1]",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "out" / "rows.csv.out").read_bytes() == b"id1,3\nid2,7\n"


def test_s3_in_and_out(server: Server, s3_server: S3Server, s3_env: dict[str, str], s3_bucket: str, tmp_path: Path):
    client = s3_server.client()
    big = csv_rows(400_000, "big")  # > 8 MiB: a multipart upload
    objects = {"in/a.csv": csv_rows(5, "a"), "in/sub/b.csv": big, "in/bad.csv": b"POISON\n", "other/c.csv": b"c\n"}
    for key, data in objects.items():
        client.put_object(Bucket=s3_bucket, Key=key, Body=data)
    common = ["--endpoint", server.url, "--split-type", "Line", "--max-retries", "0", "--max-concurrent", "2"]
    result = transform(*common, "--input", f"s3://{s3_bucket}/in/", "--output", f"s3://{s3_bucket}/out", env=s3_env)
    assert result.returncode == 1, result.stderr
    listed = client.list_objects_v2(Bucket=s3_bucket, Prefix="out/")["Contents"]
    assert sorted(item["Key"] for item in listed) == ["out/a.csv.out", "out/sub/b.csv.out"]
    assert client.get_object(Bucket=s3_bucket, Key="out/sub/b.csv.out")["Body"].read() == big
    manifest = json.dumps([{"prefix": f"s3://{s3_bucket}/"}, "in/a.csv", "other/c.csv"]).encode()
    client.put_object(Bucket=s3_bucket, Key="manifest.json", Body=manifest)
    result = transform(
        *common, "--manifest", "--input", f"s3://{s3_bucket}/manifest.json", "--output", str(tmp_path / "m"), env=s3_env
    )
    assert result.returncode == 0, result.stderr
    assert outputs(tmp_path / "m") == {"in/a.csv.out": objects["in/a.csv"], "other/c.csv.out": b"c\n"}


LARGE_BYTES = 2 * 1024**3
MEBIBYTE = 1024 * 1024


def peak_rss_kib(result: subprocess.CompletedProcess[str]) -> int:
    assert result.returncode == 0, result.stderr
    return int(result.stderr.rsplit("PEAK_RSS_KIB", 1)[1].split()[0])


def test_a_large_input_streams_with_flat_memory(server: Server, tmp_path: Path):
    """2 GiB of CSV (a gzip file of identical 1 MiB members, decompressed as one stream) with a server that
    answers each batch in a few bytes: the runner never holds more than its window of batches. The bound is the
    same command's peak on a tiny input plus (window + 2) batches: the window, the producer's read buffers and
    the allocator's slack."""
    block = csv_rows(40_000, "row")  # ~1 MiB of whole lines
    member = zlib.compressobj(1, zlib.DEFLATED, 31)
    compressed = member.compress(block) + member.flush()
    count = LARGE_BYTES // len(block)
    with (tmp_path / "big.csv.gz").open("wb") as out:
        for _ in range(count):
            out.write(compressed)
    write(tmp_path / "small.csv.gz", compressed)
    server.behaviour.reply = b"ok\n"
    common = ["--endpoint", server.url, "--compression", "Gzip", "--split-type", "Line", "--no-progress"]
    common += ["--max-concurrent", "2", "--max-payload-mb", "6"]  # a window of 4 batches of 6 MiB
    base_kib = peak_rss_kib(
        transform(*common, "--input", str(tmp_path / "small.csv.gz"), "--output", str(tmp_path / "o"))
    )
    started = time.monotonic()
    result = transform(*common, "--input", str(tmp_path / "big.csv.gz"), "--output", str(tmp_path / "out"))
    elapsed = time.monotonic() - started
    peak_kib = peak_rss_kib(result)
    assert f"{count * 40_000} records" in result.stderr
    bound_kib = base_kib + (4 + 2) * 6 * MEBIBYTE // 1024
    print(f"peak RSS {peak_kib} KiB (base {base_kib} KiB), {count * len(block)} bytes in {elapsed:.1f} s")
    assert peak_kib < min(bound_kib, 200 * 1024), (
        f"peak RSS {peak_kib} KiB over {bound_kib} KiB (base {base_kib} KiB + 6 batches of 6 MiB) "
        f"for {count * len(block)} bytes in {elapsed:.1f} s"
    )
