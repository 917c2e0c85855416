"""The top Dockerfile, built on a local Debian base and run by a real dockerd the way the platform runs it:
`docker run -v JOBTREE:/opt/ml --hostname algo-1 IMAGE train`, `... serve` on a published loopback port, and
`docker stop` (SIGTERM, then SIGKILL after the timeout)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.containers.engine import DockerEngine
from tests.containers.harness import (
    container_name,
    env_args,
    free_port,
    make_job,
    predict,
    removed_after,
    wait_for_ping,
)

pytestmark = pytest.mark.integration


def run_train(engine: DockerEngine, image: str, tree: Path, program: str, *extra: str) -> tuple[int, str]:
    """`docker run --rm --network none -v tree:/opt/ml --hostname algo-1 IMAGE train`: (exit code, output)."""
    result = engine.docker(
        "run", "--rm", "--network", "none", "-v", f"{tree}:/opt/ml", "--hostname", "algo-1",
        *env_args({"SAGEMAKER_PROGRAM": program}), *extra, image, "train",
        check=False, timeout=120,
    )  # fmt: skip
    return result.returncode, result.stdout + result.stderr


def test_image_metadata(docker_engine: DockerEngine, smtoolkit_image: str) -> None:
    inspected = json.loads(docker_engine.docker("image", "inspect", smtoolkit_image).stdout)[0]["Config"]
    assert inspected["Entrypoint"] == ["smtoolkit"]
    assert inspected["Labels"]["com.amazonaws.sagemaker.capabilities.accept-bind-to-port"] == "true"
    assert "/opt/venv/bin" in next(v for v in inspected["Env"] if v.startswith("PATH="))
    uid = docker_engine.docker(
        "run", "--rm", "--network", "none", "--entrypoint", "id", smtoolkit_image, "-u", "smtoolkit"
    )
    assert uid.stdout.strip() == "1000"


def test_train_writes_the_model_and_the_success_file(
    docker_engine: DockerEngine, smtoolkit_image: str, tmp_path: Path
) -> None:
    tree = make_job(tmp_path / "ml", "train_mean.py", hyperparameters={"scale": "2"})
    code, output = run_train(docker_engine, smtoolkit_image, tree, "train_mean.py")
    assert code == 0, output
    assert json.loads((tree / "model" / "model.json").read_text()) == {"mean": 5.0, "host": "algo-1", "uid": 0}
    assert (tree / "output" / "success").exists()
    assert not (tree / "output" / "failure").exists()
    assert "train:mean=5.0;" in output


def test_failing_job_writes_the_failure_file_and_exits_non_zero(
    docker_engine: DockerEngine, smtoolkit_image: str, tmp_path: Path
) -> None:
    tree = make_job(tmp_path / "ml", "train_fail.py")
    code, output = run_train(docker_engine, smtoolkit_image, tree, "train_fail.py")
    assert code == 1, output
    failure = (tree / "output" / "failure").read_text()
    assert failure.startswith("UserScriptError")
    assert "ValueError: bad value: 42" in failure
    assert not (tree / "output" / "success").exists()


def test_bad_configuration_fails_the_job_with_the_file_and_field(
    docker_engine: DockerEngine, smtoolkit_image: str, tmp_path: Path
) -> None:
    tree = make_job(tmp_path / "ml", "train_mean.py")
    (tree / "input" / "config" / "resourceconfig.json").write_text('{"hosts": ["algo-1"]}')
    code, _ = run_train(docker_engine, smtoolkit_image, tree, "train_mean.py")
    assert code == 2  # a configuration error (README: How commands end)
    failure = (tree / "output" / "failure").read_text()
    assert "resourceconfig.json" in failure and "current_host" in failure


def test_docker_stop_delivers_sigterm_and_the_job_stops_cleanly(
    docker_engine: DockerEngine, smtoolkit_image: str, tmp_path: Path
) -> None:
    tree = make_job(tmp_path / "ml", "train_until_sigterm.py")
    with removed_after(docker_engine, container_name()) as name:
        docker_engine.docker(
            "run", "-d", "--name", name, "--network", "none", "-v", f"{tree}:/opt/ml", "--hostname", "algo-1",
            *env_args({"SAGEMAKER_PROGRAM": "train_until_sigterm.py"}), smtoolkit_image, "train",
        )  # fmt: skip
        started = tree / "output" / "data" / "started"
        deadline = time.monotonic() + 60
        while not started.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert started.exists(), docker_engine.docker("logs", name, check=False).stderr
        stop_began = time.monotonic()
        docker_engine.docker("stop", "--time", "30", name, timeout=60)
        stop_took = time.monotonic() - stop_began
        state = json.loads(docker_engine.docker("inspect", "--format", "{{json .State}}", name).stdout)
    assert stop_took < 15, f"docker stop took {stop_took:.1f} s: SIGTERM did not reach the job"
    assert (tree / "output" / "data" / "sigterm-received").read_text().startswith("signal 15")
    assert state["ExitCode"] == 0 and not state["OOMKilled"], state
    assert (tree / "output" / "success").exists()


@pytest.fixture
def served_tree(tmp_path: Path) -> Path:
    """A job tree holding a model (mean 1.5) and the inference script in code/."""
    tree = make_job(tmp_path / "ml", "inference.py")
    (tree / "model" / "model.json").write_text(json.dumps({"mean": 1.5}))
    tree.chmod(0o755)
    return tree


def test_serve_answers_on_a_published_loopback_port_as_non_root(
    docker_engine: DockerEngine, smtoolkit_image: str, served_tree: Path, bridge_network: str
) -> None:
    port = free_port()
    with removed_after(docker_engine, container_name()) as name:
        docker_engine.docker(
            "run", "-d", "--name", name, "--network", bridge_network, "-p", f"127.0.0.1:{port}:8080",
            "--user", "smtoolkit", "-v", f"{served_tree}:/opt/ml:ro",
            *env_args({"SAGEMAKER_MODEL_SERVER_WORKERS": "1"}), smtoolkit_image, "serve",
        )  # fmt: skip
        base_url = f"http://127.0.0.1:{port}"
        wait_for_ping(f"{base_url}/ping", docker_engine, name)
        assert predict(base_url, [[1, 2], [3, 4]]) == (200, [4.5, 8.5])
        status, body = predict(base_url, [[1, "x"]])  # predict_fn raises TypeError: a 500, no traceback
        assert status == 500 and "Traceback" not in body["message"], body
        began = time.monotonic()
        docker_engine.docker("stop", "--time", "30", name, timeout=60)
        stop_took = time.monotonic() - began
        exit_code = docker_engine.docker("inspect", "--format", "{{.State.ExitCode}}", name).stdout.strip()
    assert stop_took < 15 and exit_code == "0", (stop_took, exit_code)


def test_serve_binds_the_port_the_platform_gives(
    docker_engine: DockerEngine, smtoolkit_image: str, served_tree: Path
) -> None:
    """accept-bind-to-port: with the host's network the server listens where SAGEMAKER_BIND_TO_PORT says."""
    port = free_port()
    environ = {"SAGEMAKER_BIND_TO_PORT": str(port), "SAGEMAKER_BIND_TO_ADDRESS": "127.0.0.1"}
    with removed_after(docker_engine, container_name()) as name:
        docker_engine.docker(
            "run", "-d", "--name", name, "--network", "host", "-v", f"{served_tree}:/opt/ml:ro",
            *env_args({**environ, "SAGEMAKER_MODEL_SERVER_WORKERS": "1"}), smtoolkit_image, "serve",
        )  # fmt: skip
        wait_for_ping(f"http://127.0.0.1:{port}/ping", docker_engine, name)
        assert predict(f"http://127.0.0.1:{port}", [[0, 0]]) == (200, [1.5])
