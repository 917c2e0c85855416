"""plan_serving: what `serve` will do, decided without fetching, installing, binding or importing anything."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from smtoolkit.config.launcher import LauncherSettings
from smtoolkit.config.serving import ServingSettings
from smtoolkit.errors import ConfigError, EntryPointError
from smtoolkit.paths import JobPaths
from smtoolkit.serve.plan import AFTER_IMPORT, ServePlan, plan_serving
from smtoolkit.usercode.install import AFTER_FETCH

# The script raises on import: a planner that imported it would fail the test.
SCRIPT = "raise RuntimeError('imported while planning')\n"


def _files(root: Path) -> list[str]:
    return sorted(str(path.relative_to(root)) for path in root.rglob("*"))


def _plan(base: Path, **environ: str) -> ServePlan:
    environ = {"PATH": "/usr/bin", **environ}
    settings = ServingSettings.from_environ(environ)
    return plan_serving(settings, environ, JobPaths(base), LauncherSettings.from_environ(environ))


@pytest.fixture
def base(tmp_path: Path) -> Path:
    code = tmp_path / "ml" / "model" / "code"
    code.mkdir(parents=True)
    (code / "inference.py").write_text(SCRIPT)
    (code / "requirements.txt").write_text("six\n")
    return tmp_path / "ml"


def test_single_model_plan_says_everything_and_writes_nothing(base: Path) -> None:
    before = _files(base)
    plan = _plan(base, SAGEMAKER_BIND_TO_PORT="9100", SAGEMAKER_MODEL_SERVER_WORKERS="3")
    described = json.loads(plan.render())
    assert _files(base) == before
    assert described["protocols"] == {"sagemaker": ["GET /ping", "POST /invocations", "GET /execution-parameters"]}
    assert described["listen"] == {"address": "0.0.0.0", "port": 9100}
    assert described["model"]["directory"] == str(base / "model")
    assert described["code"]["script"] == str(base / "model" / "code" / "inference.py")
    assert len(described["code"]["install"]) == 1 and "requirements.txt" in described["code"]["install"][0]
    assert described["gunicorn"]["bind"] == ["0.0.0.0:9100"] and described["gunicorn"]["workers"] == 3
    assert described["batching"]["threads"].startswith(AFTER_IMPORT)
    assert described["multi_model"] is None and described["payload_limit_bytes"] == 6 * 1024 * 1024
    assert "port 9100" in plan.summary()


def test_fetched_code_is_decided_once_fetched_and_secrets_are_masked(base: Path) -> None:
    uri = "https://host/sourcedir.tar.gz?X-Amz-Security-Token=s3cr3t"
    described = _plan(base, SAGEMAKER_SUBMIT_DIRECTORY=uri).describe()
    code = described["code"]
    assert code["script"] == AFTER_FETCH and code["install"] == AFTER_FETCH
    assert code["fetch"]["into"] == str(base / "code") and "s3cr3t" not in json.dumps(described)
    assert not (base / "code").exists()


def test_multi_model_without_a_script_of_its_own(tmp_path: Path) -> None:
    plan = _plan(tmp_path, SAGEMAKER_MULTI_MODEL="true", SAGEMAKER_MME_MEMORY_BUDGET_MB="512")
    described = plan.describe()
    assert plan.code is None and described["code"] is None
    assert "POST /models" in described["protocols"]["sagemaker"]
    assert described["multi_model"]["store"] == str(tmp_path / "model")
    assert described["multi_model"]["memory_budget_mb"] == 512


def test_multi_model_never_takes_vertex_port(base: Path) -> None:
    plan = _plan(base, SAGEMAKER_MULTI_MODEL="true", AIP_MODE="PREDICTION", AIP_HTTP_PORT="9200")
    assert plan.protocols.names == ["sagemaker"] and plan.settings.bind_to_port == 8080
    assert plan.code is not None and plan.code.script == base / "model" / "code" / "inference.py"


def test_vertex_port_and_model_fetched_later(base: Path) -> None:
    plan = _plan(base, AIP_MODE="PREDICTION", AIP_HTTP_PORT="9200", AIP_STORAGE_URI="gs://bucket/model")
    described = plan.describe()
    assert described["listen"]["port"] == 9200 and described["gunicorn"]["bind"] == ["0.0.0.0:9200"]
    assert described["model"]["uri"] == "gs://bucket/model" and described["model"]["fetch_at_start"] is True
    assert "vertex" in described["protocols"] and plan.model.fetcher() is not None
    in_place = _plan(base, AIP_MODE="PREDICTION", AIP_STORAGE_URI=str(base / "model"))
    assert in_place.model.directory == base / "model" and in_place.model.fetcher() is None


def test_oip_routes_name_the_model(base: Path) -> None:
    plan = _plan(base, SMTOOLKIT_SERVE_PROTOCOLS="oip", SMTOOLKIT_OIP_MODEL_NAME="iris")
    assert "POST /v2/models/iris[/versions/{version}]/infer" in plan.routes()["oip"]


@pytest.mark.parametrize(
    ("environ", "error", "message"),
    [
        ({"AIP_MODE": "PREDICTION", "AIP_PREDICT_ROUTE": "/invocations"}, ConfigError, "AIP_PREDICT_ROUTE"),
        ({"AIP_MODE": "PREDICTION", "AIP_STORAGE_URI": "http://host/m"}, ConfigError, "AIP_STORAGE_URI"),
        ({"AIP_MODE": "PREDICTION", "AIP_HTTP_PORT": "x"}, ConfigError, "AIP_HTTP_PORT"),
        ({"CA_REPOSITORY_ARN": "arn:nonsense"}, ConfigError, "arn:nonsense"),
        ({"SAGEMAKER_PROGRAM": "infer.py"}, EntryPointError, "infer.py not found"),
    ],
)
def test_bad_settings_stop_the_plan(base: Path, environ: dict[str, str], error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        _plan(base, **environ)


def test_bad_serving_setting_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="SAGEMAKER_MODEL_SERVER_WORKERS"):
        ServingSettings.from_environ({"SAGEMAKER_MODEL_SERVER_WORKERS": "many"})


@pytest.fixture
def kserve(tmp_path: Path) -> tuple[Path, Path]:
    """A job tree whose code is in code/ (no model dir), and KServe's folder holding the model."""
    base, models = tmp_path / "ml", tmp_path / "mnt" / "models"
    (base / "code").mkdir(parents=True)
    (base / "code" / "inference.py").write_text(SCRIPT)
    models.mkdir(parents=True)
    (models / "weights.bin").write_bytes(b"w")
    return base, models


def _kserve_plan(base: Path, models: Path, **environ: str) -> ServePlan:
    return _plan(base, SMTOOLKIT_SERVE_PROTOCOLS="oip", SMTOOLKIT_KSERVE_MODEL_DIR=str(models), **environ)


def test_on_kserve_the_model_is_read_from_its_storage_initializers_folder(
    kserve: tuple[Path, Path], caplog: pytest.LogCaptureFixture
) -> None:
    base, models = kserve
    caplog.set_level("INFO", "smtoolkit.serve.platforms")
    for _ in range(2):  # SageMaker's model dir missing, then empty (an image that made it)
        plan = _kserve_plan(base, models)
        assert plan.describe()["model"]["directory"] == str(models) and plan.model.fetcher() is None
        assert f"Model dir: KServe's {models} (SMTOOLKIT_KSERVE_MODEL_DIR)" in caplog.text
        (base / "model").mkdir(exist_ok=True)
    assert _plan(base, SMTOOLKIT_KSERVE_MODEL_DIR=str(models)).model.directory == base / "model"  # OIP off


def test_sagemakers_model_dir_wins_over_kserves_and_the_log_says_so(
    kserve: tuple[Path, Path], caplog: pytest.LogCaptureFixture
) -> None:
    base, models = kserve
    (base / "model").mkdir()
    (base / "model" / "model.pkl").write_bytes(b"m")
    assert _kserve_plan(base, models).model.directory == base / "model"
    assert f"Both SageMaker's model dir {base / 'model'} and KServe's {models}" in caplog.text
    for leftover in models.iterdir():
        leftover.unlink()
    caplog.clear()
    assert _kserve_plan(base, models).model.directory == base / "model" and not caplog.text


def test_without_kserves_folder_the_model_dir_stays_sagemakers(kserve: tuple[Path, Path]) -> None:
    base, models = kserve
    assert _kserve_plan(base, models.parent / "nothing").model.directory == base / "model"
    with pytest.raises(ConfigError, match="SMTOOLKIT_KSERVE_MODEL_DIR: got 'mnt/models': expected an absolute path"):
        _kserve_plan(base, Path("mnt/models"))
