"""`smtoolkit local train --image`: every host of a 2-host job in a container of the session's built image, on a
Docker network of the job's own (host names resolve there), the trees mounted at /opt/ml; and the error when no
engine answers."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from tests.containers.engine import DockerEngine
from tests.integration.local_jobs import stop_when_ready

pytestmark = pytest.mark.integration

LOCAL = [sys.executable, "-m", "smtoolkit.local"]
SCRIPT = """
import json, socket, time
from smtoolkit import env
# A TCP exchange between the hosts, so each resolves the other while both run: algo-2 says hello, algo-1 answers.
if env.current_host == "algo-1":
    with socket.create_server(("", 9000)) as server:
        conn, _ = server.accept()
        with conn:
            peers = {host: socket.gethostbyname(host) for host in env.hosts}
            conn.sendall(conn.recv(16))
else:
    deadline = time.monotonic() + 60
    while True:
        try:
            conn = socket.create_connection(("algo-1", 9000), timeout=5)
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    with conn:
        peers = {host: socket.gethostbyname(host) for host in env.hosts}
        conn.sendall(b"hello")
        assert conn.recv(16) == b"hello"
env.model_dir.mkdir(parents=True, exist_ok=True)
info = {"hostname": socket.gethostname(), "host": env.current_host, "base": str(env.base_dir), "peers": peers}
(env.model_dir / f"{env.current_host}.json").write_text(json.dumps(info))
print("in container", env.current_host, flush=True)
"""


def _train(work: Path, code: Path, environ: dict[str, str], *flags: str) -> subprocess.CompletedProcess[str]:
    argv = [*LOCAL, "train", "--work-dir", str(work), "--entry-point", "train.py", "--source-dir", str(code), *flags]
    return subprocess.run(argv, env=environ, capture_output=True, text=True, timeout=180)


def test_two_hosts_in_containers_resolve_each_other(
    docker_engine: DockerEngine, smtoolkit_image: str, tmp_path: Path
) -> None:
    code = tmp_path / "code"
    code.mkdir()
    (code / "train.py").write_text(SCRIPT)
    work = tmp_path / "work"
    result = _train(work, code, docker_engine.environ, "--instance-count", "2", "--image", smtoolkit_image)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "algo-1 | in container algo-1" in result.stdout and "algo-2 | in container algo-2" in result.stdout
    described = json.loads((work / "job.json").read_text())
    with tarfile.open(described["ModelArtifacts"]["S3ModelArtifacts"]) as tar:
        infos = [json.load(tar.extractfile(f"algo-{n}.json")) for n in (1, 2)]  # type: ignore[arg-type]
    assert [(i["hostname"], i["host"], i["base"]) for i in infos] == [
        ("algo-1", "algo-1", "/opt/ml"),
        ("algo-2", "algo-2", "/opt/ml"),
    ]
    peers = infos[0]["peers"]
    assert peers == infos[1]["peers"] and len(set(peers.values())) == 2 and "127.0.0.1" not in peers.values()
    left = (
        docker_engine.docker("ps", "-a", "--format", "{{.Names}}").stdout
        + docker_engine.docker("network", "ls", "--format", "{{.Name}}").stdout
    )
    assert "smtoolkit-" not in left  # containers and the job's network removed


STOPPABLE = """
import signal, sys, time
from smtoolkit import env
def stop(signum, frame):
    env.model_dir.mkdir(parents=True, exist_ok=True)
    (env.model_dir / "stopped.txt").write_text(signal.Signals(signum).name)
    sys.exit(0)
signal.signal(signal.SIGTERM, stop)
print("ready", flush=True)
time.sleep(60)
"""


def test_sigterm_stops_the_containers_with_docker_stop(
    docker_engine: DockerEngine, smtoolkit_image: str, tmp_path: Path
) -> None:
    code = tmp_path / "code"
    code.mkdir()
    (code / "train.py").write_text(STOPPABLE)
    work = tmp_path / "work"
    argv = [*LOCAL, "train", "--work-dir", str(work), "--entry-point", "train.py", "--source-dir", str(code)]
    argv += ["--image", smtoolkit_image, "--grace-period", "20"]
    stop_when_ready(argv, signal.SIGTERM, 143, docker_engine.environ)
    described = json.loads((work / "job.json").read_text())
    assert described["TrainingJobStatus"] == "Stopped"
    assert (work / "algo-1" / "model" / "stopped.txt").read_text() == "SIGTERM"
    assert "smtoolkit-" not in docker_engine.docker("ps", "-a", "--format", "{{.Names}}").stdout


def test_without_an_engine_the_error_says_so(tmp_path: Path) -> None:
    code = tmp_path / "code"
    code.mkdir()
    (code / "train.py").write_text("")
    environ = {**os.environ, "DOCKER_HOST": f"unix://{tmp_path / 'no-such.sock'}"}
    result = _train(tmp_path / "work", code, environ, "--image", "smtoolkit:test")
    assert result.returncode == 1
    assert f"--image: no Docker engine reachable at unix://{tmp_path / 'no-such.sock'}" in result.stderr
    assert not (tmp_path / "work").exists()  # checked before any work
