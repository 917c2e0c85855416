"""Every kind of bad configuration gives a ConfigError naming the file, the field and what was expected."""

from pathlib import Path
from typing import Any

import pytest

from smtoolkit.config.training import TrainingEnv
from smtoolkit.errors import ConfigError


def _error(job_tree: Any, **files: Any) -> str:
    job_tree(**files)
    with pytest.raises(ConfigError) as info:
        TrainingEnv.load()
    return str(info.value)


def test_malformed_json(job_tree: Any) -> None:
    text = _error(job_tree, hyperparameters='{"lr": 0.1,')
    assert "hyperparameters.json: is not valid JSON" in text
    assert "line 1 column" in text


def test_empty_file(job_tree: Any) -> None:
    assert "resourceconfig.json: is empty; expected a JSON object" in _error(job_tree, resources=" \n")


def test_not_an_object(job_tree: Any) -> None:
    assert "inputdataconfig.json: expected a JSON object, got array" in _error(job_tree, channels="[1]")


def test_missing_required_fields(job_tree: Any) -> None:
    text = _error(job_tree, resources={"hosts": ["algo-1"]})
    assert "resourceconfig.json: current_host: required field is missing" in text
    text = _error(job_tree, resources={"current_host": "algo-1"})
    assert "resourceconfig.json: hosts: required field is missing" in text


def test_wrong_type(job_tree: Any) -> None:
    text = _error(job_tree, resources={"current_host": "algo-1", "hosts": "algo-1"})
    assert "resourceconfig.json: hosts: Input should be a valid list (got 'algo-1')" in text


def test_current_host_not_in_hosts(job_tree: Any) -> None:
    text = _error(job_tree, resources={"current_host": "algo-9", "hosts": ["algo-1"]})
    assert "current_host 'algo-9' is not one of hosts" in text


def test_unknown_input_mode(job_tree: Any) -> None:
    text = _error(job_tree, channels={"train": {"TrainingInputMode": "Stream"}})
    assert "inputdataconfig.json: train.TrainingInputMode: Input should be 'File', 'Pipe' or 'FastFile'" in text
    assert "(got 'Stream')" in text


def test_non_utf8_byte(job_tree: Any) -> None:
    base: Path = job_tree()
    (base / "input" / "config" / "hyperparameters.json").write_bytes(b'{"name": "caf\xe9"}')
    with pytest.raises(ConfigError, match=r"hyperparameters.json: is not valid UTF-8 \(byte 0xe9 at offset 13\)"):
        TrainingEnv.load()


def test_every_problem_is_reported_at_once(job_tree: Any) -> None:
    text = _error(job_tree, hyperparameters="{", channels={"a": 1}, resources={"hosts": []})
    lines = text.splitlines()
    assert any("hyperparameters.json" in line for line in lines)
    assert any("inputdataconfig.json: a: expected a JSON object" in line for line in lines)
    assert any("resourceconfig.json: current_host" in line for line in lines)
    assert any("resourceconfig.json: hosts" in line for line in lines)


def test_bad_sm_variable(job_tree: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    job_tree()
    monkeypatch.setenv("SM_HPS", "{not json")
    with pytest.raises(ConfigError, match="SM_HPS: is not valid JSON"):
        TrainingEnv.load()


def test_bad_log_level(job_tree: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    job_tree()
    monkeypatch.setenv("SAGEMAKER_CONTAINER_LOG_LEVEL", "LOUD")
    with pytest.raises(Exception, match="not a log level: 'LOUD'"):
        TrainingEnv.load()


def test_unreadable_file(job_tree: Any) -> None:
    base: Path = job_tree()
    target = base / "input" / "config" / "hyperparameters.json"
    target.unlink()
    target.mkdir()
    with pytest.raises(ConfigError, match="hyperparameters.json: cannot be read"):
        TrainingEnv.load()
