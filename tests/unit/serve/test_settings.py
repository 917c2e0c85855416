"""ServingSettings: defaults, SAGEMAKER_* parsing, derived values, and errors that name the variable."""

from __future__ import annotations

import pytest

from smtoolkit import hardware
from smtoolkit.config.serving import ServingSettings, load_serving_settings
from smtoolkit.errors import ConfigError


def test_defaults(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(hardware, "num_cpus", lambda: 3)
    settings = load_serving_settings()
    assert settings.bind_to_port == 8080 and settings.bind_to_address == "0.0.0.0"
    assert settings.workers() == 3 and settings.timeout == 60
    assert settings.max_payload_bytes == 6 * 1024 * 1024
    assert settings.default_invocations_accept == "application/json"
    assert settings.program_name == "inference.py" and settings.preload_model
    assert settings.model_server_worker_class == "async" and settings.container_log_level == 20
    assert settings.execution_parameters() == {
        "MaxConcurrentTransforms": 3,
        "BatchStrategy": "MULTI_RECORD",
        "MaxPayloadInMB": 6,
    }


def test_every_variable_is_read(monkeypatch: pytest.MonkeyPatch):
    variables = {
        "SAGEMAKER_BIND_TO_PORT": "9090",
        "SAGEMAKER_BIND_TO_ADDRESS": "::1",
        "SAGEMAKER_SAFE_PORT_RANGE": "20000-20999",
        "SAGEMAKER_MODEL_SERVER_WORKERS": "4",
        "SAGEMAKER_MODEL_SERVER_TIMEOUT": "120",
        "SAGEMAKER_MODEL_SERVER_WORKER_CLASS": "gthread",
        "SAGEMAKER_MODEL_SERVER_THREADS": "8",
        "SAGEMAKER_MODEL_SERVER_GRACEFUL_TIMEOUT": "10",
        "SAGEMAKER_PRELOAD_MODEL": "false",
        "SAGEMAKER_MAX_PAYLOAD_IN_MB": "0",
        "SAGEMAKER_MAX_CONCURRENT_TRANSFORMS": "16",
        "SAGEMAKER_BATCH_STRATEGY": "SingleRecord",
        "SAGEMAKER_BATCH": "true",
        "SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT": "Text/CSV",
        "SAGEMAKER_PROGRAM": "serve.py",
        "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code",
        "SAGEMAKER_MULTI_MODEL": "false",
        "SAGEMAKER_STARTUP_TIMEOUT": "30",
        "SAGEMAKER_CONTAINER_LOG_LEVEL": "WARNING",
        "SAGEMAKER_REGION": "eu-west-1",  # not a serving setting: ignored
    }
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    settings = load_serving_settings()
    assert (settings.bind_to_port, settings.bind_to_address, settings.safe_port_range) == (9090, "::1", (20000, 20999))
    assert (settings.workers(), settings.timeout, settings.model_server_threads) == (4, 120, 8)
    assert settings.model_server_graceful_timeout == 10 and not settings.preload_model
    assert settings.max_payload_bytes is None and settings.batch and not settings.multi_model
    assert settings.default_invocations_accept == "text/csv" and settings.program_name == "serve.py"
    assert settings.submit_directory == "/opt/ml/model/code" and settings.startup_timeout == 30
    assert settings.container_log_level == 30
    assert settings.execution_parameters() == {
        "MaxConcurrentTransforms": 16,
        "BatchStrategy": "SINGLE_RECORD",
        "MaxPayloadInMB": 0,
    }


def test_timeout_seconds_wins(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("SAGEMAKER_MODEL_SERVER_TIMEOUT", "60")
    monkeypatch.setenv("SAGEMAKER_MODEL_SERVER_TIMEOUT_SECONDS", "300")
    assert load_serving_settings().timeout == 300


@pytest.mark.parametrize(("given", "meant"), [("uvicorn", "async"), (" Async ", "async"), ("SYNC", "sync")])
def test_worker_class_takes_friendly_names(given: str, meant: str):
    assert ServingSettings(model_server_worker_class=given).model_server_worker_class == meant  # type: ignore[arg-type]


def test_derived_concurrency_stays_within_the_platform_budget():
    settings = ServingSettings(model_server_workers=8, max_payload_in_mb=50)
    assert settings.execution_parameters()["MaxConcurrentTransforms"] == 2
    gthread = ServingSettings(model_server_workers=2, model_server_worker_class="gthread", model_server_threads=4)
    assert gthread.execution_parameters()["MaxConcurrentTransforms"] == 8


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("SAGEMAKER_BIND_TO_PORT", "http", "valid integer"),
        ("SAGEMAKER_BIND_TO_PORT", "70000", "less than or equal to 65535"),
        ("SAGEMAKER_BIND_TO_ADDRESS", "localhost", "expected an IP address"),
        ("SAGEMAKER_SAFE_PORT_RANGE", "2000", 'expected a port range "XXXX-YYYY"'),
        ("SAGEMAKER_SAFE_PORT_RANGE", "3000-2000", "XXXX <= YYYY"),
        ("SAGEMAKER_MODEL_SERVER_WORKERS", "0", "greater than or equal to 1"),
        ("SAGEMAKER_MODEL_SERVER_WORKER_CLASS", "gevent", "expected one of async, uvicorn, sync, gthread"),
        ("SAGEMAKER_MODEL_SERVER_WORKER_CLASS", "gtread", "(did you mean gthread?)"),
        ("SAGEMAKER_MAX_PAYLOAD_IN_MB", "1025", "less than or equal to 1024"),
        ("SAGEMAKER_BATCH_STRATEGY", "ALL", "'MULTI_RECORD' or 'SINGLE_RECORD'"),
        ("SAGEMAKER_BATCH", "maybe", "valid boolean"),
        ("SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT", "*/*", "one media type"),
        ("SAGEMAKER_CONTAINER_LOG_LEVEL", "loud", "not a log level"),
    ],
)
def test_errors_name_the_variable_the_value_and_what_was_expected(monkeypatch, variable, value, expected):
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as caught:
        load_serving_settings()
    (problem,) = caught.value.problems
    assert problem.field == variable
    assert f"got {value!r}" in problem.message and expected in problem.message


def test_several_errors_are_reported_together(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("SAGEMAKER_BIND_TO_PORT", "x")
    monkeypatch.setenv("SAGEMAKER_STARTUP_TIMEOUT", "-1")
    with pytest.raises(ConfigError) as caught:
        load_serving_settings()
    assert [p.field for p in caught.value.problems] == ["SAGEMAKER_BIND_TO_PORT", "SAGEMAKER_STARTUP_TIMEOUT"]


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        (
            {"SAGEMAKER_MODEL_SERVER_THREADS": "4", "SAGEMAKER_MODEL_SERVER_WORKER_CLASS": "sync"},
            "needs SAGEMAKER_MODEL_SERVER_WORKER_CLASS=async or gthread",
        ),
        (
            {"SAGEMAKER_MAX_CONCURRENT_TRANSFORMS": "20", "SAGEMAKER_MAX_PAYLOAD_IN_MB": "6"},
            "SAGEMAKER_MAX_CONCURRENT_TRANSFORMS x SAGEMAKER_MAX_PAYLOAD_IN_MB is 120",
        ),
    ],
)
def test_combinations_are_checked(monkeypatch, variables, message):
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=message):
        load_serving_settings()


def test_every_field_documents_its_default():
    for name, field in ServingSettings.model_fields.items():
        assert field.description and "Default" in field.description, name


def test_a_payload_limit_over_batchs_100_mb_is_accepted_and_reported_within_it():
    settings = ServingSettings(model_server_workers=2, max_payload_in_mb=1024)  # asynchronous inference: 1 GB
    assert settings.max_payload_bytes == 1024 * 1024 * 1024
    assert settings.execution_parameters()["MaxPayloadInMB"] == 100
