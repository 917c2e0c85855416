"""SMTOOLKIT_HOST_ADDRESSES: host name -> address, for hosts whose names do not resolve (a local job's hosts)."""

from __future__ import annotations

import os
from typing import Any

import pytest

from smtoolkit.config.export import to_env_vars
from smtoolkit.config.training import TrainingEnv
from smtoolkit.errors import ConfigError
from smtoolkit.launch.backends import EngineSettings, build_engine_plan
from smtoolkit.launch.entrypoint import EntryPoint

ADDRESSES = '{"algo-1": "127.0.0.1", "algo-2": "127.0.0.2"}'
TORCH = {"sagemaker_torch_distributed_enabled": "true"}


def _env(job_tree: Any, environ: dict[str, str], host: str = "algo-2") -> TrainingEnv:
    job_tree(hyperparameters=TORCH, resources={"current_host": host, "hosts": ["algo-1", "algo-2"]})
    return TrainingEnv.load(environ={**os.environ, **environ}, reported_num_gpus=0, reported_num_neurons=0)


def test_the_master_is_reached_at_its_mapped_address(job_tree: Any) -> None:
    env = _env(job_tree, {"SMTOOLKIT_HOST_ADDRESSES": ADDRESSES})
    assert env.host_addresses == {"algo-1": "127.0.0.1", "algo-2": "127.0.0.2"}
    assert (env.master_hostname, env.master_addr, env.address_of("algo-2")) == ("algo-1", "127.0.0.1", "127.0.0.2")
    exported = to_env_vars(env)
    assert exported["SM_MASTER_ADDR"] == "127.0.0.1"
    assert '"master_hostname":"algo-1"' in exported["SM_TRAINING_ENV"]


def test_without_a_mapping_host_names_are_used(job_tree: Any) -> None:
    env = _env(job_tree, {})
    assert env.host_addresses == {} and env.master_addr == "algo-1" and to_env_vars(env)["SM_MASTER_ADDR"] == "algo-1"
    plan = build_engine_plan(env, EntryPoint("script", "train.py", python="/py"), [], {}, EngineSettings(), {})
    assert plan.master_addr == "algo-1" and "addresses" not in plan.describe()


def test_a_host_missing_from_the_mapping_keeps_its_name(job_tree: Any) -> None:
    env = _env(job_tree, {"SMTOOLKIT_HOST_ADDRESSES": '{"algo-2": "10.0.0.2"}'})
    assert env.master_addr == "algo-1" and env.address_of("algo-2") == "10.0.0.2"


def test_torchrun_and_the_launchers_connect_to_the_master_address(job_tree: Any) -> None:
    env = _env(job_tree, {"SMTOOLKIT_HOST_ADDRESSES": ADDRESSES})
    plan = build_engine_plan(env, EntryPoint("script", "train.py", python="/py"), [], {}, EngineSettings(), {})
    argv = list(plan.argv)
    assert argv[argv.index("--master_addr") + 1] == "127.0.0.1"
    assert plan.master == "algo-1" and plan.master_addr == "127.0.0.1" and plan.address_of("algo-2") == "127.0.0.2"
    assert plan.describe()["addresses"] == {"algo-1": "127.0.0.1", "algo-2": "127.0.0.2"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{not json", "SMTOOLKIT_HOST_ADDRESSES: is not valid JSON"),
        ('["127.0.0.1"]', "SMTOOLKIT_HOST_ADDRESSES: expected a JSON object, got"),
        ('{"algo-1": 1}', "SMTOOLKIT_HOST_ADDRESSES: algo-1: expected a non-empty address string, got 1"),
        ('{"algo-1": " "}', "SMTOOLKIT_HOST_ADDRESSES: algo-1: expected a non-empty address string"),
    ],
)
def test_bad_mappings_name_the_variable_and_host(job_tree: Any, text: str, expected: str) -> None:
    with pytest.raises(ConfigError, match=expected):
        _env(job_tree, {"SMTOOLKIT_HOST_ADDRESSES": text})
