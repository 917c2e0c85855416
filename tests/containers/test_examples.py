"""The example images of containers/ built FROM the top image and run as the platform runs them: the
scikit-learn image trains and serves (scikit-learn from PyPI), the processing image splits its input, the
everywhere image serves one model as SageMaker, Vertex AI and a KServe (Open Inference Protocol) client call it.
(The PyTorch image downloads about 3 GB; `python -m tests.containers.check_pytorch_image` builds and runs it.)"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import tritonclient.http as triton

from tests.conftest import write_job_tree
from tests.containers.conftest import REPO_ROOT, build_image
from tests.containers.engine import DockerEngine
from tests.containers.harness import (
    container_name,
    env_args,
    free_port,
    http,
    predict,
    removed_after,
    wait_for_ping,
)
from tests.integration.platforms import HEALTH_ROUTE, PREDICT_ROUTE

pytestmark = pytest.mark.integration

CONTAINERS = REPO_ROOT / "containers"
# Two well separated classes: label, feature 1, feature 2.
ROWS = [f"{label},{label * 10 + i % 3},{label * 10 - i % 2}" for label in (0, 1) for i in range(20)]
# containers/everywhere's linear model, one input for every platform and its scores (exact in FP32).
LINEAR = {"weights": [0.5, -1.0], "bias": 0.25}
FEATURES = [[1, 2], [3, 4]]
SCORES = [-1.25, -2.25]


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


@pytest.fixture(scope="module")
def everywhere_image(docker_engine: DockerEngine, smtoolkit_image: str) -> str:
    return build_image(docker_engine, CONTAINERS / "everywhere", "smtoolkit-everywhere:test", smtoolkit_image)


@pytest.fixture
def linear_model(tmp_path: Path) -> Path:
    model = tmp_path / "model"
    model.mkdir()
    (model / "weights.json").write_text(json.dumps(LINEAR))
    return model


@contextlib.contextmanager
def serving(engine: DockerEngine, image: str, port: int, ready_path: str, *run_args: str) -> Iterator[str]:
    """`docker run -d RUN_ARGS IMAGE serve`; yield its base URL once GET ready_path answers 200; removed after."""
    with removed_after(engine, container_name()) as name:
        engine.docker("run", "-d", "--name", name, *run_args, image, "serve")
        base_url = f"http://127.0.0.1:{port}"
        wait_for_ping(f"{base_url}{ready_path}", engine, name)
        yield base_url


def test_everywhere_image_serves_invocations_as_sagemaker_runs_it(
    docker_engine: DockerEngine, everywhere_image: str, linear_model: Path
) -> None:
    """The model at /opt/ml/model, the port SageMaker gives an image labelled accept-bind-to-port."""
    port = free_port()
    environ = {"SAGEMAKER_BIND_TO_PORT": str(port), "SAGEMAKER_BIND_TO_ADDRESS": "127.0.0.1"}
    run_args = ["--network", "host", "-v", f"{linear_model}:/opt/ml/model:ro", *env_args(environ)]
    with serving(docker_engine, everywhere_image, port, "/ping", *run_args) as base_url:
        assert predict(base_url, FEATURES) == (200, SCORES)


def test_everywhere_image_serves_vertex_ai_from_aip_storage_uri(
    docker_engine: DockerEngine, everywhere_image: str, linear_model: Path, bridge_network: str
) -> None:
    """AIP_* as Vertex AI sets them; the model only where AIP_STORAGE_URI says (/opt/ml/model stays empty), on
    AIP_HTTP_PORT (not 8080, so that the port is seen to be Vertex's)."""
    port = free_port()
    environ = {
        "AIP_MODE": "PREDICTION",
        "AIP_HTTP_PORT": "8081",
        "AIP_HEALTH_ROUTE": HEALTH_ROUTE,
        "AIP_PREDICT_ROUTE": PREDICT_ROUTE,
        "AIP_STORAGE_URI": "/mnt/artifacts",
    }
    run_args = [
        "--network", bridge_network, "-p", f"127.0.0.1:{port}:8081", "-v", f"{linear_model}:/mnt/artifacts:ro",
        *env_args(environ),
    ]  # fmt: skip
    with serving(docker_engine, everywhere_image, port, HEALTH_ROUTE, *run_args) as base_url:
        answers = [
            http(f"{base_url}{PREDICT_ROUTE}", json.dumps(body).encode(), {"Content-Type": "application/json"})
            for body in ({"instances": FEATURES}, {"instances": FEATURES, "parameters": {"threshold": -2}})
        ]
    assert [(status, json.loads(body)) for status, body in answers] == [
        (200, {"predictions": SCORES}),
        (200, {"predictions": [True, False]}),
    ]


def test_everywhere_image_serves_the_open_inference_protocol_to_tritonclient(
    docker_engine: DockerEngine, everywhere_image: str, linear_model: Path, bridge_network: str
) -> None:
    """As a KServe custom container: port 8080, the model mounted at /opt/ml/model, the image's own settings."""
    port = free_port()
    run_args = ["--network", bridge_network, "-p", f"127.0.0.1:{port}:8080", "-v", f"{linear_model}:/opt/ml/model:ro"]
    with serving(docker_engine, everywhere_image, port, "/v2/health/ready", *run_args):
        client = triton.InferenceServerClient(f"127.0.0.1:{port}")
        try:
            metadata = client.get_model_metadata("linear")
            features = triton.InferInput("features", [2, 2], "FP32")
            features.set_data_from_numpy(np.array(FEATURES, np.float32))  # binary tensor data
            scores = client.infer("linear", [features]).as_numpy("score")
        finally:
            client.close()
    assert metadata["inputs"] == [{"name": "features", "datatype": "FP32", "shape": [-1, -1]}]
    assert metadata["outputs"] == [{"name": "score", "datatype": "FP32", "shape": [-1]}]
    assert scores is not None and scores.tolist() == SCORES
