"""A SageMaker Python SDK v3 ModelTrainer job (the real SDK, local container mode: docker-compose against the test's
dockerd) on an image built FROM ours that also bakes in a program of its own, the way the README's image does.

The SDK replaces the entry point with `/bin/bash -c .../sm_drivers/sm_train.sh`; with
`SourceCode(entry_script=..., command="train")` its driver hands over to smtoolkit's launcher, which runs the
ModelTrainer's code (not the image's), with smtoolkit's environment, and writes smtoolkit's failure file.
Two jobs: one that trains, one whose code fails."""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.containers.base_image import default_cache_dir
from tests.containers.conftest import REPO_ROOT, build_image
from tests.containers.engine import DockerEngine, EngineError
from tests.containers.harness import CODE
from tests.containers.sdk_v3 import run_sdk, sdk_environ, sdk_v3_python

pytestmark = pytest.mark.integration

JOB_SCRIPT = Path(__file__).resolve().parent / "modeltrainer_job.py"
PROGRAM = "train_modeltrainer.py"
DERIVED_DOCKERFILE = """FROM {base}
COPY train.py /opt/program/
ENV SAGEMAKER_SUBMIT_DIRECTORY=/opt/program SAGEMAKER_PROGRAM=train.py
"""


@pytest.fixture(scope="module")
def sdk_python() -> Path:
    try:
        return sdk_v3_python(default_cache_dir(REPO_ROOT))
    except EngineError as exc:
        pytest.fail(f"cannot install the SageMaker Python SDK v3: {exc}", pytrace=False)


@pytest.fixture(scope="module")
def derived_image(docker_engine: DockerEngine, smtoolkit_image: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    context = tmp_path_factory.mktemp("derived")
    (context / "Dockerfile").write_text(DERIVED_DOCKERFILE.format(base=smtoolkit_image))
    (context / "train.py").write_text("raise SystemExit('the image program ran instead of the job code')\n")
    return build_image(docker_engine, context, "smtoolkit-derived:test", smtoolkit_image)


@pytest.fixture
def job_root(docker_engine: DockerEngine, tmp_path: Path) -> Iterator[Path]:
    """The SDK's local_container_root; compose names the container after it, removed afterwards."""
    root = tmp_path / f"mt{uuid.uuid4().hex[:10]}"
    root.mkdir()
    yield root
    docker_engine.docker("rm", "-f", f"{root.name}_algo-1_1", check=False, timeout=60)


def _run_job(
    engine: DockerEngine, python: Path, image: str, root: Path, hyperparameters: dict[str, Any]
) -> tuple[int, str]:
    """One ModelTrainer job; (the container's own exit code, the SDK's output)."""
    source, data = root.parent / "src", root.parent / "data"
    source.mkdir()
    shutil.copy(CODE / PROGRAM, source / PROGRAM)
    data.mkdir()
    (data / "part-0.csv").write_text("1 2\n3 4\n")
    spec: dict[str, Any] = {"image": image, "source_dir": str(source), "entry_script": PROGRAM, "command": "train"}
    spec |= {"root": str(root), "data": str(data), "hyperparameters": hyperparameters}
    output = run_sdk(python, JOB_SCRIPT, json.dumps(spec), sdk_environ(engine.environ, root.parent))
    state = engine.docker("inspect", "--format", "{{.State.ExitCode}}", f"{root.name}_algo-1_1", check=False)
    assert state.returncode == 0, f"no container was run:\n{output[-4000:]}"
    return int(state.stdout.strip()), output


def test_modeltrainer_job_runs_its_code_under_smtoolkit(
    docker_engine: DockerEngine, sdk_python: Path, derived_image: str, job_root: Path
) -> None:
    code, output = _run_job(docker_engine, sdk_python, derived_image, job_root, {"scale": 2})
    assert code == 0, output[-4000:]
    model = json.loads((job_root / "artifacts" / "model" / "model.json").read_text())
    assert model == {"mean": 5.0, "program": PROGRAM, "host": "algo-1", "launcher": PROGRAM}
    assert (job_root / "artifacts" / "output" / "success").exists()
    assert (job_root / "compressed_artifacts" / "model.tar.gz").is_file()


def test_failing_modeltrainer_job_gets_smtoolkits_failure_file(
    docker_engine: DockerEngine, sdk_python: Path, derived_image: str, job_root: Path
) -> None:
    code, output = _run_job(docker_engine, sdk_python, derived_image, job_root, {"scale": 2, "fail": True})
    assert code == 1, output[-4000:]
    failure = (job_root / "artifacts" / "output" / "failure").read_text()
    assert failure.startswith("UserScriptError"), failure
    assert "ValueError: bad value: 42" in failure
    assert not (job_root / "artifacts" / "output" / "success").exists()
