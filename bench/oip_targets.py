"""MLServer as the Open Inference Protocol baseline: its own venv (bench/.venvs/mlserver, made on first use), a
custom MLModel runtime that decodes its FP32 input to numpy and returns it (NumpyCodec, as a runtime does), and
settings with `parallel_workers` inference processes behind MLServer's one HTTP process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from bench.common import VENVS
from bench.serve_targets import base_environ, free_port

# uvloop 0.22 made get_event_loop() raise without a running loop, which kills MLServer 1.7.1's inference workers.
MLSERVER_REQUIREMENTS = ("mlserver==1.7.1", "uvloop<0.22")
MODEL_NAME = "echo"
INFER_PATH = f"/v2/models/{MODEL_NAME}/infer"
READY_PATH = f"/v2/models/{MODEL_NAME}/ready"  # /v2/health/ready answers 200 before the model is loaded
# A small FP32 tensor, the request every OIP server gets in bench_oip.
INFER_BODY = json.dumps(
    {"inputs": [{"name": "input0", "shape": [1, 4], "datatype": "FP32", "data": [0.1, 0.2, 0.3, 0.4]}]},
    separators=(",", ":"),
)
ECHO_RUNTIME = """
from mlserver import MLModel
from mlserver.codecs import NumpyCodec
from mlserver.types import InferenceRequest, InferenceResponse


class Echo(MLModel):
    async def load(self) -> bool:
        return True

    async def predict(self, payload: InferenceRequest) -> InferenceResponse:
        array = NumpyCodec.decode_input(payload.inputs[0])
        output = NumpyCodec.encode_output("output0", array)
        return InferenceResponse(model_name=self.name, id=payload.id, outputs=[output])
"""


def mlserver_venv() -> Path:
    """bench/.venvs/mlserver, made once; its bin directory."""
    venv = VENVS / "mlserver"
    marker, wanted = venv / ".installed", "\n".join(MLSERVER_REQUIREMENTS)
    if not marker.exists() or marker.read_text() != wanted:
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", *MLSERVER_REQUIREMENTS], check=True)
        marker.write_text(wanted)
    return venv / "bin"


def write_mlserver_model(folder: Path, port: int, workers: int) -> None:
    """settings.json and the echo model (model-settings.json + runtime) in `folder`, ready for `mlserver start`."""
    folder.mkdir(parents=True)
    settings = {
        "host": "127.0.0.1",
        "http_port": port,
        "grpc_port": free_port(),
        "metrics_port": free_port(),
        "parallel_workers": workers,
        "debug": False,
    }
    (folder / "settings.json").write_text(json.dumps(settings))
    model = {"name": MODEL_NAME, "implementation": "echo_runtime.Echo", "parameters": {"version": "1"}}
    (folder / "model-settings.json").write_text(json.dumps(model))
    (folder / "echo_runtime.py").write_text(ECHO_RUNTIME)


def start_mlserver(folder: Path, port: int, workers: int, prefix: Sequence[str] = ()) -> subprocess.Popen[bytes]:
    mlserver = mlserver_venv() / "mlserver"
    write_mlserver_model(folder, port, workers)
    env = base_environ() | {"PYTHONPATH": str(folder)}
    with (folder / "mlserver.log").open("wb") as log:  # its per-request INFO lines stay out of the report
        return subprocess.Popen(
            [*prefix, str(mlserver), "start", str(folder)],
            cwd=folder,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: its workers go with it in stop()
        )


def stop(process: subprocess.Popen[bytes], grace: float = 15) -> None:
    """SIGTERM, then SIGKILL to the server's own process group: MLServer 1.7.1 can hang in its shutdown."""
    process.terminate()
    try:
        process.wait(grace)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
