from typing import Any

import pytest

from smtoolkit.config.training import TrainingEnv

HETERO = {
    "current_host": "algo-2",
    "current_group_name": "gpu",
    "hosts": ["algo-1", "algo-2", "algo-3"],
    "instance_groups": [
        {"instance_group_name": "cpu", "instance_type": "ml.c5.xlarge", "hosts": ["algo-1"]},
        {"instance_group_name": "gpu", "instance_type": "ml.p4d.24xlarge", "hosts": ["algo-3", "algo-2"]},
    ],
}


def test_single_host_is_master_rank_zero(job_tree: Any) -> None:
    job_tree()
    env = TrainingEnv.load()
    assert (env.master_hostname, env.is_master, env.host_rank, env.host_count) == ("algo-1", True, 0, 1)


def test_homogeneous_without_groups_uses_all_hosts(job_tree: Any) -> None:
    job_tree(resources={"current_host": "algo-3", "hosts": ["algo-1", "algo-2", "algo-3"]})
    env = TrainingEnv.load()
    assert env.distribution_hosts == ["algo-1", "algo-2", "algo-3"]
    assert (env.master_hostname, env.host_rank, env.host_count) == ("algo-1", 2, 3)


def test_hetero_without_distribution_ranks_over_all_hosts(job_tree: Any) -> None:
    job_tree(resources=HETERO)
    env = TrainingEnv.load()
    assert env.distribution_instance_groups == []
    assert env.distribution_hosts == []
    assert (env.master_hostname, env.host_rank, env.host_count) == ("algo-1", 1, 3)
    assert env.resource_config.is_hetero


@pytest.mark.parametrize(
    "hyperparameters",
    [
        {"sagemaker_distribution_instance_groups": '["gpu"]'},
        {"sagemaker_torch_distributed_enabled": "true"},
    ],
)
def test_hetero_distribution_group_master_is_its_first_host(job_tree: Any, hyperparameters: Any) -> None:
    job_tree(resources=HETERO, hyperparameters=hyperparameters)
    env = TrainingEnv.load()
    assert env.distribution_instance_groups == ["gpu"]
    assert env.distribution_hosts == ["algo-3", "algo-2"]
    # the master is the first distribution host, and ranks count from it
    assert (env.master_hostname, env.is_master, env.host_rank, env.host_count) == ("algo-3", False, 1, 2)


def test_host_outside_the_distribution_ranks_over_all_hosts(job_tree: Any) -> None:
    job_tree(
        resources={**HETERO, "current_host": "algo-1", "current_group_name": "cpu"},
        hyperparameters={"sagemaker_distribution_instance_groups": '["gpu"]'},
    )
    env = TrainingEnv.load()
    assert (env.master_hostname, env.is_master, env.host_rank, env.host_count) == ("algo-3", False, 0, 3)


def test_resource_config_reexports_verbatim(job_tree: Any) -> None:
    job_tree(resources={**HETERO, "future_key": {"x": 1}})
    assert TrainingEnv.load().resource_config.verbatim() == {**HETERO, "future_key": {"x": 1}}
