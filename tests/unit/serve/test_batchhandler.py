"""batch_predict_fn: found and checked at startup like the other handler functions, then run through a Batcher."""

from __future__ import annotations

import logging
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from smtoolkit.config.batching import BatchingSettings
from smtoolkit.config.serving import ServingSettings
from smtoolkit.errors import ConfigError, EntryPointError
from smtoolkit.serve.batching.handler import (
    batch_predictor,
    find_batch_predict_fn,
    warn_if_unused,
    with_batching_concurrency,
)
from smtoolkit.serve.handlers import handlers_from


def model_fn(model_dir: str) -> str:
    return "model"


def script(**functions: Any) -> Any:
    namespace = SimpleNamespace(model_fn=model_fn, **functions)
    return namespace, handlers_from(namespace, "inference.py")


def test_a_script_without_batch_predict_fn_is_not_batched() -> None:
    assert find_batch_predict_fn(*script()) is None


def test_batch_predict_fn_with_context_gets_the_model_dir(tmp_path: Path) -> None:
    def batch_predict_fn(batch: list[int], model: str, context: Any) -> list[str]:
        return [f"{model}:{item}:{context.system_properties['model_dir']}" for item in batch]

    function = find_batch_predict_fn(*script(batch_predict_fn=batch_predict_fn, input_fn=lambda d, t: d))
    assert function is not None and function.name == "batch_predict_fn"
    settings = BatchingSettings(max_batch_size=4, max_batch_wait_ms=0)
    assert batch_predictor(function, "m", tmp_path, settings).submit(3) == f"m:3:{tmp_path}"


@pytest.mark.parametrize(
    ("functions", "message"),
    [
        ({"batch_predict_fn": 3}, "batch_predict_fn is a int, not a function like batch_predict_fn"),
        ({"batch_predict_fn": lambda batch: batch}, r"batch_predict_fn\(batch\) does not fit the contract"),
        ({"batch_predict_fn": lambda b, m: b, "predict_fn": lambda d, m: d}, "defines batch_predict_fn and predict_fn"),
        ({"batch_predict_fn": lambda b, m: b, "transform_fn": lambda m, d, c, a: d}, "and transform_fn"),
    ],
)
def test_a_bad_batch_predict_fn_fails_at_startup_naming_it(functions: dict[str, Any], message: str) -> None:
    with pytest.raises(EntryPointError, match=message):
        find_batch_predict_fn(*script(**functions))


def test_settings_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SAGEMAKER_MAX_BATCH_SIZE", "16")
    monkeypatch.setenv("SAGEMAKER_MAX_BATCH_WAIT_MS", "2.5")
    settings = BatchingSettings.from_environ()
    assert (settings.max_batch_size, settings.max_batch_wait_s) == (16, 0.0025)


def test_batching_settings_without_batch_predict_fn_are_reported(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("SAGEMAKER_MAX_BATCH_SIZE", "16")
    with caplog.at_level(logging.WARNING):
        warn_if_unused(BatchingSettings.from_environ(), None, "inference.py")
    assert "SAGEMAKER_MAX_BATCH_SIZE is set but inference.py defines no batch_predict_fn" in caplog.text


def test_only_the_batching_variables_are_reported_from_the_serving_settings(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("SAGEMAKER_MAX_BATCH_WAIT_MS", "5")
    monkeypatch.setenv("SAGEMAKER_BIND_TO_PORT", "9000")
    with caplog.at_level(logging.WARNING):
        warn_if_unused(ServingSettings.from_environ(), None, "inference.py")
    assert "SAGEMAKER_MAX_BATCH_WAIT_MS is set but inference.py" in caplog.text
    assert "BIND_TO_PORT" not in caplog.text


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("SAGEMAKER_MAX_BATCH_SIZE", "0", "SAGEMAKER_MAX_BATCH_SIZE: got '0'"),
        ("SAGEMAKER_MAX_BATCH_WAIT_MS", "soon", "SAGEMAKER_MAX_BATCH_WAIT_MS: got 'soon'"),
    ],
)
def test_bad_batching_variables_are_named(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, message: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError, match=message):
        BatchingSettings.from_environ()


def batch_predict_fn(batch: list[Any], model: Any) -> list[Any]:
    return batch


def test_a_batching_script_on_gthread_gets_a_batch_of_threads_unless_threads_are_set(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """On gthread, with one thread per worker (the default) requests never meet in a batch: batching would
    silently do nothing."""
    function = find_batch_predict_fn(*script(batch_predict_fn=batch_predict_fn))
    monkeypatch.setenv("SAGEMAKER_MAX_BATCH_SIZE", "16")
    monkeypatch.setenv("SAGEMAKER_MODEL_SERVER_WORKER_CLASS", "gthread")
    assert with_batching_concurrency(ServingSettings.from_environ(), function, "i.py").model_server_threads == 16
    assert with_batching_concurrency(ServingSettings.from_environ(), None, "i.py").model_server_threads == 1
    monkeypatch.setenv("SAGEMAKER_MODEL_SERVER_THREADS", "4")
    with caplog.at_level(logging.WARNING):
        assert with_batching_concurrency(ServingSettings.from_environ(), function, "i.py").model_server_threads == 4
    assert "SAGEMAKER_MODEL_SERVER_THREADS=4 caps batches at 4 requests on gthread workers" in caplog.text


def test_a_batching_script_on_async_keeps_its_threads_since_waiting_requests_hold_none(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    function = find_batch_predict_fn(*script(batch_predict_fn=batch_predict_fn))
    monkeypatch.setenv("SAGEMAKER_MAX_BATCH_SIZE", "16")
    monkeypatch.setenv("SAGEMAKER_MODEL_SERVER_THREADS", "2")
    with caplog.at_level(logging.WARNING):
        assert with_batching_concurrency(ServingSettings.from_environ(), function, "i.py").model_server_threads == 2
    assert "caps" not in caplog.text


def test_a_batching_script_on_sync_workers_is_told_its_batches_hold_one_request(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    function = find_batch_predict_fn(*script(batch_predict_fn=batch_predict_fn))
    monkeypatch.setenv("SAGEMAKER_MODEL_SERVER_WORKER_CLASS", "sync")
    with caplog.at_level(logging.WARNING):
        settings = with_batching_concurrency(ServingSettings.from_environ(), function, "i.py")
    assert settings.model_server_threads == 1
    assert "batches hold one request" in caplog.text
