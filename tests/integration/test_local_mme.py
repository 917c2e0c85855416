"""`smtoolkit local mme` for real: a folder of model.tar.gz files served through the front, each model loaded on
its first invocation, the least recently used one unloaded when the server answers 507."""

from __future__ import annotations

import http.client
import io
import json
import os
import signal
import subprocess
import sys
import tarfile
from pathlib import Path

from tests.integration.serving import free_port, wait_for

MODEL_CODE = """
import os
from pathlib import Path

def model_fn(model_dir):
    ballast = bytearray(int(Path(model_dir, "alloc_mb").read_text()) * 1024 * 1024)
    ballast[::4096] = b"\\x01" * len(range(0, len(ballast), 4096))  # resident, not just reserved
    return {"name": Path(model_dir, "name.txt").read_text(), "ballast": ballast}

def predict_fn(data, model):
    return {"model": model["name"], "echo": data}
"""


def _archive(folder: Path, name: str, alloc_mb: int) -> None:
    files = {"name.txt": name, "alloc_mb": str(alloc_mb), "code/inference.py": MODEL_CODE}
    with tarfile.open(folder / f"{name}.tar.gz", "w:gz") as archive:
        for path, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(path)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))


def _invoke(port: int, name: str) -> tuple[int, dict[str, object]]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        connection.request("POST", f"/models/{name}/invoke", b"[1]", {"Content-Type": "application/json"})
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def test_models_load_on_first_call_and_the_least_recently_used_makes_room(tmp_path: Path) -> None:
    models = tmp_path / "models"
    models.mkdir()
    for name in ("a", "b", "c"):
        _archive(models, name, alloc_mb=300)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SAGEMAKER_")}
    # One worker, and room for one 300 MiB model beside the server's own memory, not for two.
    env |= {"SAGEMAKER_MODEL_SERVER_WORKERS": "1", "SAGEMAKER_MME_MEMORY_BUDGET_MB": "650"}
    log = (tmp_path / "local.log").open("w")
    argv = [sys.executable, "-m", "smtoolkit", "local", "mme", str(models), "--port", str(port)]
    process = subprocess.Popen([*argv, "--work-dir", str(tmp_path / "work")], env=env, stdout=log, stderr=log)
    try:
        wait_for(lambda: "Multi-model endpoint on" in (tmp_path / "local.log").read_text(), 60, "the front")
        for name in ("a", "b", "a", "c"):
            status, body = _invoke(port, name)
            assert (status, body) == (200, {"model": name, "echo": [1]}), (tmp_path / "local.log").read_text()
        assert _invoke(port, "nope")[0] == 404
        output = (tmp_path / "local.log").read_text()
        assert "Unloading a to make room for b" in output and "Unloading b to make room for a" in output
        assert (tmp_path / "work" / "models" / "a" / "code" / "inference.py").is_file()  # unpacked once, kept
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0
        log.close()
