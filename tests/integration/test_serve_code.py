"""Where `serve` gets its code for real: a tarball, an s3:// tarball (the SeaweedFS server of conftest), with
requirements.txt installed from a local wheel folder before the workers start; fetch and install failures."""

from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from tests.integration.serving import server_env, start, stop, wait_ready, worker_class
from tests.integration.test_train import _wheel
from tests.s3server import S3Server

pytestmark = pytest.mark.integration
__all__ = ["worker_class"]  # the fixture that runs this module once per worker class

SCRIPT = """
import smtk_serve_dep


def model_fn(model_dir):
    return lambda data: data * smtk_serve_dep.FACTOR
"""


def _tarball(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def test_code_from_a_tarball_with_requirements_from_a_wheel_folder(tmp_path: Path, worker_class: str):
    wheels, site = tmp_path / "wheels", tmp_path / "site"
    _wheel(wheels, "smtk_serve_dep", "1.0", "FACTOR = 3\n")
    requirements = f"--no-index\n--find-links {wheels}\nsmtk_serve_dep==1.0\n"
    archive = tmp_path / "sourcedir.tar.gz"
    archive.write_bytes(_tarball({"predictor.py": SCRIPT, "requirements.txt": requirements}))
    # PIP_TARGET keeps the test venv clean: pip installs there and the server finds it on PYTHONPATH.
    extra = {
        "PIP_TARGET": str(site),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")])),
    }
    server = start(
        tmp_path / "ml",
        None,
        worker_class,
        SAGEMAKER_SUBMIT_DIRECTORY=str(archive),
        SAGEMAKER_PROGRAM="predictor.py",
        **extra,
    )
    try:
        wait_ready(server, 60)
        reply = server.invoke(b"1,2\n", "text/csv", Accept="text/csv")
        assert (reply.status, reply.body) == (200, b"3.0,6.0\n")
        assert (tmp_path / "ml" / "code" / "predictor.py").is_file()
        output = server.output()
        assert output.index("install requirements.txt") < output.index("Booting worker")  # once, before workers
        assert output.count("install requirements.txt:") == 1
    finally:
        stop(server)


def test_code_from_s3(tmp_path: Path, s3_server: S3Server, s3_env: dict[str, str], worker_class: str):
    client = s3_server.client()
    script = "def model_fn(model_dir):\n    return lambda data: data + 1\n"
    bucket = s3_env["SMTOOLKIT_TEST_BUCKET"]
    client.put_object(Bucket=bucket, Key="model/source/sourcedir.tar.gz", Body=_tarball({"inference.py": script}))
    uri = f"s3://{bucket}/model/source/sourcedir.tar.gz"
    server = start(tmp_path / "ml", None, worker_class, SAGEMAKER_SUBMIT_DIRECTORY=uri, **s3_env)
    try:
        wait_ready(server, 30)
        assert server.invoke(b"[1, 2]", "application/json").json() == [2, 3]
    finally:
        stop(server)


def test_a_missing_s3_object_stops_serve_at_startup(tmp_path: Path, s3_env: dict[str, str], worker_class: str):
    uri = f"s3://{s3_env['SMTOOLKIT_TEST_BUCKET']}/nothing/here.tar.gz"
    server = start(tmp_path / "ml", None, worker_class, SAGEMAKER_SUBMIT_DIRECTORY=uri, **s3_env)
    try:
        assert server.process.wait(30) == 1
        output = server.output()
        assert "error: cannot read s3://" in output and uri in output
        assert "Booting worker" not in output
    finally:
        stop(server)


def test_a_failed_install_stops_serve_with_pips_error(tmp_path: Path, worker_class: str):
    base = tmp_path / "ml"
    (base / "code").mkdir(parents=True)
    (base / "code" / "requirements.txt").write_text("--no-index\nsmtk-missing-package==9.9\n")
    server = start(base, "def model_fn(model_dir):\n    return None\n", worker_class)
    try:
        assert server.process.wait(60) == 1
        output = server.output()
        assert "error: install requirements.txt failed with exit code 1" in output
        assert "smtk-missing-package" in output and "Booting worker" not in output
    finally:
        stop(server)


def test_dry_run_prints_the_plan_and_fetches_installs_binds_nothing(tmp_path: Path) -> None:
    """The port is held by the test: a serve that tried it would fail (exit 2); the tarball is not unpacked."""
    archive = tmp_path / "sourcedir.tar.gz"
    archive.write_bytes(_tarball({"inference.py": SCRIPT, "requirements.txt": "smtk-serve-dep\n"}))
    base = tmp_path / "ml"
    base.mkdir()
    with socket.create_server(("127.0.0.1", 0)) as held:
        port = held.getsockname()[1]
        extra = {"SAGEMAKER_SUBMIT_DIRECTORY": str(archive), "AIP_MODE": "PREDICTION", "AIP_HTTP_PORT": str(port)}
        for _ in range(2):  # twice in a row: the first left nothing that changes the second
            result = subprocess.run(
                [sys.executable, "-m", "smtoolkit.serve", "serve", "--dry-run"],
                env=server_env(base, port, extra),
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert result.returncode == 0, result.stderr
            plan = json.loads(result.stdout)
            assert plan["listen"] == {"address": "127.0.0.1", "port": port}
            assert plan["code"]["fetch"]["uri"] == str(archive) and "vertex" in plan["protocols"]
            assert list(base.iterdir()) == []
    typo = subprocess.run(
        [sys.executable, "-m", "smtoolkit.serve", "--dry-rn"], env=server_env(base, port, {}), capture_output=True
    )
    assert typo.returncode == 2 and b"--dry-run" in typo.stderr
