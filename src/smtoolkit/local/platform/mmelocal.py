"""`smtoolkit local mme`: `serve` as a multi-model endpoint on a loopback port, the front (mmefront) on the
user's port, until SIGINT or SIGTERM; then both stop, the server gracefully."""

from __future__ import annotations

import http.client
import logging
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from smtoolkit.errors import ConfigError, LaunchError
from smtoolkit.local.platform.mmefront import ARCHIVE_SUFFIX, ModelCache, serve_front
from smtoolkit.transform.server import free_port

log = logging.getLogger(__name__)

READY_TIMEOUT_S = 120.0


def _ready(port: int) -> bool:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        connection.request("GET", "/ping")
        return connection.getresponse().status == 200
    except OSError:
        return False
    finally:
        connection.close()


def start_backend(tree: Path, port: int, code: Path | None) -> subprocess.Popen[bytes]:
    env = dict(os.environ)
    env.update(
        SAGEMAKER_MULTI_MODEL="true",
        SAGEMAKER_BASE_DIR=str(tree),
        SAGEMAKER_BIND_TO_ADDRESS="127.0.0.1",
        SAGEMAKER_BIND_TO_PORT=str(port),
    )
    if code is not None:
        env["SAGEMAKER_SUBMIT_DIRECTORY"] = str(code.resolve())
    (tree / "model").mkdir(parents=True, exist_ok=True)
    process = subprocess.Popen([sys.executable, "-m", "smtoolkit.serve"], env=env)
    deadline = time.monotonic() + READY_TIMEOUT_S
    while not _ready(port):
        if process.poll() is not None:
            raise LaunchError(f"the model server exited with status {process.returncode} before it was ready")
        if time.monotonic() > deadline:
            process.terminate()
            raise LaunchError(f"the model server was not ready after {READY_TIMEOUT_S:.0f} s")
        time.sleep(0.1)
    return process


def run_local_mme(models: Path, address: str, port: int, code: Path | None, work_dir: Path | None) -> int:
    names = sorted(p.name.removesuffix(ARCHIVE_SUFFIX) for p in models.glob(f"*{ARCHIVE_SUFFIX}"))
    if not names:
        raise ConfigError.single("local mme", f"{models} holds no NAME{ARCHIVE_SUFFIX} file", "MODELS")
    work = work_dir or Path(tempfile.mkdtemp(prefix="smtoolkit-mme-"))
    (work / "models").mkdir(parents=True, exist_ok=True)
    backend_port = free_port()
    process = start_backend(work / "tree", backend_port, code)
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    front = serve_front(ModelCache(models, work / "models", backend_port), address, port)
    threading.Thread(target=front.serve_forever, name="mme-front", daemon=True).start()
    log.info("Multi-model endpoint on http://%s:%d: %d models from %s (%s)", address, port, len(names), models, work)
    try:
        while not stop.wait(0.5):
            if process.poll() is not None:
                raise LaunchError(f"the model server exited with status {process.returncode}")
    finally:
        front.shutdown()
        front.server_close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if process.poll() is None:
            process.terminate()
            process.wait()
    return 0
