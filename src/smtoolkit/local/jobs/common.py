"""What local training and processing jobs share: the work dir, each host's environment, the relayed output,
and the job's outcome as the platform would describe it. The work dir itself: smtoolkit.local.platform.workdir."""

from __future__ import annotations

import json
import re
import sys
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from smtoolkit.launch.report import FAILURE_REASON_CHARS
from smtoolkit.local.jobs.plan import inherited_environment
from smtoolkit.local.platform.hostnames import HostnameMode
from smtoolkit.local.platform.metrics import MetricCollector
from smtoolkit.local.platform.runner import RunOutcome
from smtoolkit.local.platform.tree import HOST_ADDRESSES_VARIABLE, host_addresses
from smtoolkit.logs import masked
from smtoolkit.paths import BASE_DIR_VARIABLE, JobPaths

EXIT_ON_MAX_RUNTIME = 124
DEFAULT_GRACE_PERIOD = 120.0
BARE_PYTHON = re.compile(r"python(3(\.\d+)?)?")


@dataclass(frozen=True)
class LocalRunSettings:
    work_dir: Path
    environ: Mapping[str, str]
    grace_period: float = DEFAULT_GRACE_PERIOD  # between the stop signal and SIGKILL (the platform's 120 s)
    output: BinaryIO | None = None  # where the hosts' output goes (default: our stdout)
    cwd: Path = field(default_factory=Path.cwd)  # where a processing job's command runs
    image: str | None = None  # training: run each host's container side in this image (docker run)
    hostnames: HostnameMode = "auto"  # in-process hosts under their own names (smtoolkit.local.platform.hostnames)


def host_variables(
    job_env: Mapping[str, str], base_dir: Path, hosts: list[str], extra: Mapping[str, str]
) -> dict[str, str]:
    """What a host adds to the inherited environment: the job's Environment, then the platform's own."""
    return {**job_env, BASE_DIR_VARIABLE: str(base_dir), HOST_ADDRESSES_VARIABLE: host_addresses(hosts), **extra}


def host_environment(
    environ: Mapping[str, str], job_env: Mapping[str, str], base_dir: Path, hosts: list[str], extra: Mapping[str, str]
) -> dict[str, str]:
    """The inherited environment without job variables, then the job's Environment, then the platform's own."""
    return {**inherited_environment(environ), **host_variables(job_env, base_dir, hosts, extra)}


class HostOutput:
    """Writes each relayed line as `<host> | <line>` to `stream`, to `<log dir>/<host>.log`, and to the metrics."""

    def __init__(self, stream: BinaryIO | None, log_dir: Path, metrics: MetricCollector | None = None) -> None:
        self._stream = stream if stream is not None else sys.stdout.buffer
        self._log_dir = log_dir
        self._metrics = metrics
        self._logs: dict[str, BinaryIO] = {}
        self._lock = threading.Lock()

    def __call__(self, host: str, line: bytes) -> None:
        with self._lock:
            self._stream.write(host.encode() + b" | " + line)
            self._stream.flush()
            if host not in self._logs:
                self._logs[host] = (self._log_dir / f"{host}.log").open("ab")
            self._logs[host].write(line)
        if self._metrics is not None:
            self._metrics.feed(line.decode("utf-8", "replace"))

    def close(self) -> None:
        with self._lock:
            for handle in self._logs.values():
                handle.close()
            self._logs.clear()


def read_reason(path: Path, limit_chars: int = FAILURE_REASON_CHARS) -> str | None:
    """The first `limit_chars` characters of a failure/message file, or None when there is none."""
    try:
        return path.read_bytes().decode("utf-8", "replace")[:limit_chars]
    except OSError:
        return None


@dataclass(frozen=True)
class JobReport:
    kind: str  # "TrainingJob", "ProcessingJob" or "TransformJob"
    name: str
    status: str  # Completed, Failed, Stopped
    secondary_status: str | None  # None: the Describe call has no SecondaryStatus (transform jobs)
    exit_code: int
    failure_reason: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    metrics_table: str | None = None  # MetricDefinitions applied to the log, when the job has any

    def describe(self) -> dict[str, Any]:
        """Describe<kind>-shaped: what the platform's Describe call would answer, plus Local* details."""
        described: dict[str, Any] = {f"{self.kind}Name": self.name, f"{self.kind}Status": self.status}
        if self.secondary_status is not None:
            described["SecondaryStatus"] = self.secondary_status
        if self.failure_reason is not None:
            described["FailureReason"] = self.failure_reason
        return {**described, **self.details, "LocalExitCode": self.exit_code}

    def write(self, path: Path) -> None:
        """The description as JSON, secret-looking values (an Environment's DB_PASSWORD) masked as in the logs."""
        path.write_text(json.dumps(masked(self.describe()), indent=2) + "\n", encoding="utf-8")


def status_of(outcome: RunOutcome) -> tuple[str, str, int]:
    """(status, secondary status, exit code of `smtoolkit local ...`) for a run.

    Stopped by a signal: 128+N. MaxRuntimeInSeconds reached: Stopped/MaxRuntimeExceeded, exit code 124. A host
    failed: Failed, with that host's exit code (1 when it is outside 1..255). Else Completed, 0.
    """
    if outcome.stop_reason == "signal" and outcome.stop_signal is not None:
        return "Stopped", "Stopped", 128 + outcome.stop_signal
    if outcome.stop_reason == "max_runtime":
        return "Stopped", "MaxRuntimeExceeded", EXIT_ON_MAX_RUNTIME
    failure = outcome.first_failure
    if failure is not None:
        return "Failed", "Failed", failure.exit_code if 0 < failure.exit_code < 256 else 1
    return "Completed", "Completed", 0


def local_hosts(outcome: RunOutcome, trees: Mapping[str, JobPaths]) -> dict[str, dict[str, Any]]:
    """The description's `LocalHosts`: each host's tree and exit code (None for a host that never exited)."""
    exits = {item.host: item.exit_code for item in outcome.exits}
    return {host: {"BaseDir": str(paths.base), "ExitCode": exits.get(host)} for host, paths in trees.items()}


def with_this_python(argv: Sequence[str]) -> list[str]:
    """`argv` with a bare `python`/`python3`/`python3.N` (looked up on PATH) replaced by the interpreter smtoolkit
    runs under, as a container's one Python would be: the user's code can import what this one can, venv
    activated or not. An interpreter given as a path stays as it is."""
    if argv and BARE_PYTHON.fullmatch(argv[0]):
        return [sys.executable, *argv[1:]]
    return list(argv)


def python_argv(*args: str) -> tuple[str, ...]:
    """`python -m smtoolkit ARGS` with this interpreter (the toolkit a container would have installed)."""
    return (sys.executable, "-m", "smtoolkit", *args)
