"""The example images of containers/ built FROM the top image and run as the platform runs them: the
scikit-learn image trains and serves (scikit-learn from PyPI), the processing image splits its input.
(The PyTorch image downloads about 3 GB; `python -m tests.containers.check_pytorch_image` builds and runs it.)"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import write_job_tree
from tests.containers.conftest import REPO_ROOT, build_image
from tests.containers.engine import DockerEngine
from tests.containers.harness import container_name, free_port, http, removed_after, wait_for_ping

pytestmark = pytest.mark.integration

CONTAINERS = REPO_ROOT / "containers"
# Two well separated classes: label, feature 1, feature 2.
ROWS = [f"{label},{label * 10 + i % 3},{label * 10 - i % 2}" for label in (0, 1) for i in range(20)]


@pytest.fixture(scope="module")
def sklearn_image(docker_engine: DockerEngine, smtoolkit_image: str) -> str:
    return build_image(docker_engine, CONTAINERS / "sklearn", "smtoolkit-sklearn:test", smtoolkit_image)


def test_sklearn_image_trains_then_serves_the_model(
    docker_engine: DockerEngine, sklearn_image: str, tmp_path: Path
) -> None:
    tree = write_job_tree(
        tmp_path / "ml",
        hyperparameters={"n-estimators": "10", "max-depth": "3"},
        channels={"train": {"TrainingInputMode": "File"}},
    )
    (tree / "input" / "data" / "train").mkdir(parents=True)
    (tree / "model").mkdir()  # the platform creates it
    (tree / "input" / "data" / "train" / "train.csv").write_text("\n".join(ROWS) + "\n")
    trained = docker_engine.docker(
        "run", "--rm", "--network", "none", "-v", f"{tree}:/opt/ml", "--hostname", "algo-1", sklearn_image, "train",
        check=False, timeout=180,
    )  # fmt: skip
    assert trained.returncode == 0, trained.stdout + trained.stderr
    assert "train:accuracy=1.0000;" in trained.stdout + trained.stderr
    assert (tree / "model" / "model.joblib").is_file() and (tree / "output" / "success").exists()

    port = free_port()
    environ = ["-e", f"SAGEMAKER_BIND_TO_PORT={port}", "-e", "SAGEMAKER_BIND_TO_ADDRESS=127.0.0.1"]
    with removed_after(docker_engine, container_name()) as name:
        docker_engine.docker(
            "run", "-d", "--name", name, "--network", "host", "-v", f"{tree / 'model'}:/opt/ml/model:ro",
            *environ, sklearn_image, "serve",
        )  # fmt: skip
        wait_for_ping(f"http://127.0.0.1:{port}/ping", docker_engine, name)
        status, body = http(
            f"http://127.0.0.1:{port}/invocations",
            b"10,10\n0,0\n",
            {"Content-Type": "text/csv", "Accept": "application/json"},
        )
    assert (status, json.loads(body)) == (200, [1.0, 0.0])


def test_processing_image_splits_its_input_and_reports_failures(
    docker_engine: DockerEngine, smtoolkit_image: str, tmp_path: Path
) -> None:
    image = build_image(docker_engine, CONTAINERS / "processing", "smtoolkit-processing:test", smtoolkit_image)
    tree = tmp_path / "ml"
    raw = tree / "processing" / "input" / "raw"
    raw.mkdir(parents=True)
    (raw / "data.csv").write_text("".join(f"{i},{i * i}\n" for i in range(10)))
    config = {
        "ProcessingJobName": "split",
        "ProcessingInputs": [{"InputName": "raw", "S3Input": {"LocalPath": "/opt/ml/processing/input/raw"}}],
        "ProcessingOutputConfig": {
            "Outputs": [
                {"OutputName": name, "S3Output": {"LocalPath": f"/opt/ml/processing/output/{name}"}}
                for name in ("train", "test")
            ]
        },
    }
    (tree / "config").mkdir()
    (tree / "config" / "processingjobconfig.json").write_text(json.dumps(config))
    (tree / "config" / "resourceconfig.json").write_text('{"current_host": "algo-1", "hosts": ["algo-1"]}')
    run = ["run", "--rm", "--network", "none", "-v", f"{tree}:/opt/ml", "--hostname", "algo-1", image]

    done = docker_engine.docker(*run, "--test-fraction", "0.5", check=False, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    output = tree / "processing" / "output"
    assert (output / "test" / "part-0.csv").read_text().splitlines() == [f"{i},{i * i}" for i in range(0, 10, 2)]
    assert len((output / "train" / "part-0.csv").read_text().splitlines()) == 5

    failed = docker_engine.docker(*run, "--test-fraction", "2", check=False, timeout=120)
    assert failed.returncode == 1
    assert "--test-fraction must be between 0 and 1 (got 2.0)" in (tree / "output" / "message").read_text()
