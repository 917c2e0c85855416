"""Shared by the local-job tests (in-process hosts and --image hosts): stop a running job once it is ready."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Mapping, Sequence


def stop_when_ready(argv: Sequence[str], signum: int, expected_code: int, env: Mapping[str, str] | None = None) -> None:
    """Start `smtoolkit local ...`, wait for the script's "ready" line, send `signum`, and check that the job ended
    with `expected_code` well before the grace period (the script's own handler ended it, not SIGKILL)."""
    process = subprocess.Popen(
        list(argv), env=None if env is None else dict(env), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    )
    try:
        assert process.stdout is not None
        deadline = time.monotonic() + 60
        for line in process.stdout:
            if b"ready" in line or time.monotonic() > deadline:
                break
        started = time.monotonic()
        process.send_signal(signum)
        rest = process.stdout.read().decode()
        assert process.wait(timeout=30) == expected_code, rest
        assert time.monotonic() - started < 15
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()
