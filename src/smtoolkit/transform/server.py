"""`--serve`: run `python -m smtoolkit.serve` on a free loopback port for the job, as the platform runs the
container's `serve` for a transform job, and stop it afterwards."""

from __future__ import annotations

import contextlib
import logging
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from smtoolkit.config.batch import variable_spelling
from smtoolkit.proc.spawn import start_in_session
from smtoolkit.proc.stop import stop_process
from smtoolkit.transform.client import wait_for_ping
from smtoolkit.transform.request import TransformRequest

logger = logging.getLogger(__name__)

STOP_GRACE_S = 30.0


@dataclass(frozen=True)
class ServeOptions:
    model_dir: Path | None = None  # default: <SAGEMAKER_BASE_DIR or /opt/ml>/model
    code_dir: Path | None = None  # SAGEMAKER_SUBMIT_DIRECTORY
    program: str | None = None  # SAGEMAKER_PROGRAM
    workers: int | None = None  # SAGEMAKER_MODEL_SERVER_WORKERS
    startup_timeout_s: float = 600.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def server_environment(
    request: TransformRequest, options: ServeOptions, port: int, environ: Mapping[str, str], base_dir: Path | None
) -> dict[str, str]:
    """The variables the platform gives a transform container (SAGEMAKER_BATCH, and the three transform
    settings only when the request sets them), the request's Environment, and where to listen."""
    env = {
        "SAGEMAKER_BATCH": "true",
        "SAGEMAKER_BIND_TO_ADDRESS": "127.0.0.1",
        "SAGEMAKER_BIND_TO_PORT": str(port),
    }
    if request.MaxPayloadInMB is not None:
        env["SAGEMAKER_MAX_PAYLOAD_IN_MB"] = str(request.MaxPayloadInMB)
    if request.BatchStrategy is not None:
        env["SAGEMAKER_BATCH_STRATEGY"] = variable_spelling(request.BatchStrategy)
    if request.MaxConcurrentTransforms:
        env["SAGEMAKER_MAX_CONCURRENT_TRANSFORMS"] = str(request.MaxConcurrentTransforms)
    if base_dir is not None:
        env["SAGEMAKER_BASE_DIR"] = str(base_dir)
    if options.code_dir is not None:
        env["SAGEMAKER_SUBMIT_DIRECTORY"] = str(options.code_dir.resolve())
    if options.program:
        env["SAGEMAKER_PROGRAM"] = options.program
    if options.workers:
        env["SAGEMAKER_MODEL_SERVER_WORKERS"] = str(options.workers)
    return {**environ, **request.Environment, **env}


@contextlib.contextmanager
def served(request: TransformRequest, options: ServeOptions, environ: Mapping[str, str]) -> Iterator[tuple[str, int]]:
    """A running server, answering /ping, for the length of the block; (host, port)."""
    with tempfile.TemporaryDirectory(prefix="smtoolkit-serve-") as scratch:
        base_dir = None
        if options.model_dir is not None:  # the server reads <base>/model: give it a base holding a link
            base_dir = Path(scratch)
            (base_dir / "model").symlink_to(options.model_dir.resolve(), target_is_directory=True)
        port = free_port()
        env = server_environment(request, options, port, environ, base_dir)
        argv = [sys.executable, "-m", "smtoolkit.serve"]
        logger.info("Starting the model server on 127.0.0.1:%d", port)
        process = start_in_session(argv, env, Path.cwd(), what="the model server", stdin=subprocess.DEVNULL)
        try:
            wait_for_ping("127.0.0.1", port, options.startup_timeout_s, lambda: process.poll() is None)
            yield "127.0.0.1", port
        finally:
            returncode = stop_process(process, STOP_GRACE_S, what="the model server")
            if returncode not in (0, -signal.SIGTERM):
                logger.warning("The model server exited with status %s", returncode)
