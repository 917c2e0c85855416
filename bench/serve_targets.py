"""The servers of bench_serve: `smtoolkit serve` (with the identity, CPU-burning or streaming script), a FastAPI
app on uvicorn (bench/fastapi_app.py), and sagemaker-containers' serving stack in its own Python 3.8 venv
(bench/.venvs/sagemaker-containers, made on first use)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
VENVS = BENCH_DIR / ".venvs"
IDENTITY_SCRIPT = """
class Identity:
    def predict(self, data):
        return data


def model_fn(model_dir):
    return Identity()


def predict_fn(data, model):
    return model.predict(data)
"""
# predict_fn burning 5 ms of CPU (the process's own CPU time, so a loaded machine stretches it, not shortens it).
CPU_SCRIPT = """
import time


def model_fn(model_dir):
    return None


def predict_fn(data, model):
    end = time.thread_time() + 0.005
    while time.thread_time() < end:
        pass
    return data
"""
# A stream of chunks, each carrying the wall-clock time of its yield, paced 2 ms apart.
STREAM_SCRIPT = """
import time


def model_fn(model_dir):
    return None


def transform_fn(model, data, content_type, accept):
    def chunks():
        for _ in range(int(data)):
            time.sleep(0.002)
            yield f"{time.time():.6f}\\n"

    return chunks(), "text/plain"
"""
# The sagemaker-containers app, as its framework containers build it: a Worker over a Transformer, made lazily.
SC_APP = """
import importlib

from sagemaker_containers.beta.framework import transformer, worker

_app = None


def main(environ, start_response):
    global _app
    if _app is None:
        user = importlib.import_module("inference")
        serving = transformer.Transformer(model_fn=user.model_fn, predict_fn=user.predict_fn)
        serving.initialize()
        _app = worker.Worker(transform_fn=serving.transform, module_name="inference")
    return _app(environ, start_response)
"""
SC_REQUIREMENTS = (
    "sagemaker-containers==2.8.6.post2",
    "protobuf==3.20.3",
    "jinja2<3.1",
    "itsdangerous<2.1",
    "werkzeug<2.1",
    "markupsafe<2.1",
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def base_environ() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("SAGEMAKER_", "SM_"))}


# The servers.
def start_fastapi(port: int, workers: int, prefix: Sequence[str] = ()) -> subprocess.Popen[bytes]:
    """The peer: bench/fastapi_app.py on uvicorn (uvloop, httptools), `workers` processes."""
    argv = [sys.executable, "-m", "uvicorn", "bench.fastapi_app:app", "--host", "127.0.0.1", "--port", str(port)]
    argv += ["--workers", str(workers), "--loop", "uvloop", "--http", "httptools", "--no-access-log"]
    argv += ["--log-level", "warning"]
    return subprocess.Popen([*prefix, *argv], cwd=BENCH_DIR.parent, env=base_environ())


def start_ours(
    base: Path,
    port: int,
    workers: int,
    worker_class: str,
    threads: int,
    prefix: Sequence[str] = (),
    script: str = IDENTITY_SCRIPT,
    extra_env: Mapping[str, str] | None = None,
) -> subprocess.Popen[bytes]:
    (base / "code").mkdir(parents=True)
    (base / "model").mkdir()
    (base / "code" / "inference.py").write_text(script)
    env = base_environ() | {
        "SAGEMAKER_BASE_DIR": str(base),
        "SAGEMAKER_BIND_TO_ADDRESS": "127.0.0.1",
        "SAGEMAKER_BIND_TO_PORT": str(port),
        "SAGEMAKER_MODEL_SERVER_WORKERS": str(workers),
        "SAGEMAKER_MODEL_SERVER_WORKER_CLASS": worker_class,
        "SAGEMAKER_MODEL_SERVER_THREADS": str(threads),
        "SAGEMAKER_CONTAINER_LOG_LEVEL": "WARNING",
        **(extra_env or {}),
    }
    return subprocess.Popen([*prefix, sys.executable, "-m", "smtoolkit.serve"], env=env)


def python38() -> Path | None:
    """pyenv's Python 3.8 (sagemaker-containers runs on nothing newer)."""
    root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    candidates = sorted(root.glob("3.8.*/bin/python3.8")) if root.is_dir() else []
    found = shutil.which("python3.8")
    return candidates[-1] if candidates else (Path(found) if found else None)


def sagemaker_containers_venv() -> Path:
    """bench/.venvs/sagemaker-containers (Python 3.8), made once; its bin directory."""
    venv = VENVS / "sagemaker-containers"
    marker, wanted = venv / ".installed", "\n".join(SC_REQUIREMENTS)
    if not marker.exists() or marker.read_text() != wanted:
        python = python38()
        if python is None:
            raise RuntimeError("no Python 3.8 found (pyenv install 3.8.18)")
        subprocess.run([str(python), "-m", "venv", "--clear", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", *SC_REQUIREMENTS], check=True)
        marker.write_text(wanted)
    return venv / "bin"


def start_sagemaker_containers(
    base: Path, port: int, workers: int, prefix: Sequence[str] = ()
) -> subprocess.Popen[bytes]:
    bin_dir = sagemaker_containers_venv()
    code = base / "code"
    code.mkdir(parents=True)
    (base / "model").mkdir()
    (code / "inference.py").write_text(IDENTITY_SCRIPT)
    (code / "sc_app.py").write_text(SC_APP)
    env = base_environ() | {"SAGEMAKER_BASE_DIR": str(base), "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    argv = [str(bin_dir / "gunicorn"), "--timeout", "60", "-k", "gevent", "--pythonpath", str(code)]
    argv += ["-b", f"127.0.0.1:{port}", "--worker-connections", str(1000 * workers), "-w", str(workers)]
    argv += ["--log-level", "warning", "sc_app:main"]
    return subprocess.Popen([*prefix, *argv], env=env, cwd=code)
