"""TrainingEnv -> the SM_* variables of the user's process, byte-compatible with sagemaker-training 5.1.4.

Encoding of every value: str as it is, None as "", anything else compact JSON with sorted keys (ASCII).
Deliberate differences from 5.1.4, each a defect there: SM_MODULE_NAME is "" (not "None") without an entry
point, `is_modelparallel_enabled` is a bool (never null), SAGEMAKER_REGION honours AWS_REGION, SM_LOG_LEVEL
follows SAGEMAKER_CONTAINER_LOG_LEVEL / SM_LOG_LEVEL, SM_NUM_CPUS honours CPU affinity and cgroup quota.
Added: SM_HOST_COUNT, SM_CURRENT_HOST_RANK, SM_MASTER_ADDR (the master's address from SMTOOLKIT_HOST_ADDRESSES
when given, else its host name; SM_TRAINING_ENV's master_hostname stays the name), SM_MASTER_PORT.
"""

from __future__ import annotations

import json
import shutil
from typing import Any

from smtoolkit.config.hyperparameters import ArgvStyle, to_cli_args
from smtoolkit.config.training import TrainingEnv


def format_value(value: Any) -> str:
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if isinstance(value, bytes):
        return value.decode("latin1")
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def training_env_dict(env: TrainingEnv) -> dict[str, Any]:
    """The 37 keys of SM_TRAINING_ENV, as sagemaker-training names them."""
    resources = env.resource_config
    return {
        "additional_framework_parameters": env.framework_params,
        "channel_input_dirs": {name: str(channel.path) for name, channel in env.channels.items()},
        "current_host": env.current_host,
        "current_instance_group": resources.current_group_name,
        "current_instance_group_hosts": resources.current_group_hosts,
        "current_instance_type": resources.current_instance_type,
        "distribution_hosts": env.distribution_hosts,
        "distribution_instance_groups": env.distribution_instance_groups,
        "framework_module": env.framework_module,
        "hosts": env.hosts,
        "hyperparameters": env.hyperparameters,
        "input_config_dir": str(env.input_config_dir),
        "input_data_config": {
            name: channel.model_dump(by_alias=True, exclude_unset=True)
            for name, channel in env.input_data_config.items()
        },
        "input_dir": str(env.input_dir),
        "instance_groups": resources.group_names,
        "instance_groups_dict": {
            group.instance_group_name: group.model_dump(exclude_unset=True) for group in resources.instance_groups
        },
        "is_hetero": resources.is_hetero,
        "is_master": env.is_master,
        "is_modelparallel_enabled": env.is_modelparallel_enabled,
        "is_smddpmprun_installed": shutil.which("smddpmprun") is not None,
        "is_smddprun_installed": shutil.which("smddprun") is not None,
        "job_name": env.job_name,
        "log_level": env.log_level,
        "master_hostname": env.master_hostname,
        "model_dir": str(env.model_dir),
        "module_dir": env.module_dir,
        "module_name": env.module_name,
        "network_interface_name": env.network_interface_name,
        "num_cpus": env.num_cpus,
        "num_gpus": env.num_gpus,
        "num_neurons": env.num_neurons,
        "output_data_dir": str(env.output_data_dir),
        "output_dir": str(env.output_dir),
        "output_intermediate_dir": str(env.output_intermediate_dir),
        "resource_config": resources.verbatim(),
        "topology": resources.topology,
        "user_entry_point": env.user_entry_point,
    }


# SM_TRAINING_ENV keys that are not exported as variables of their own.
_NOT_EXPORTED = {
    "is_master",
    "master_hostname",
    "distribution_hosts",
    "job_name",
    "is_modelparallel_enabled",
    "is_smddprun_installed",
    "is_smddpmprun_installed",
    "channel_input_dirs",
    "additional_framework_parameters",
    "hyperparameters",
    "current_instance_group",
    "topology",
}


def to_env_vars(env: TrainingEnv, argv_style: ArgvStyle = "python") -> dict[str, str]:
    """Every variable the user's process gets from the job environment (PYTHONPATH is the launcher's)."""
    values = training_env_dict(env)
    exported: dict[str, Any] = {f"SM_{key.upper()}": value for key, value in values.items() if key not in _NOT_EXPORTED}
    exported |= {
        "SM_CHANNELS": sorted(env.channels),
        "SM_HPS": env.hyperparameters,
        "SM_FRAMEWORK_PARAMS": env.framework_params,
        "SM_CURRENT_INSTANCE_GROUP": env.resource_config.current_group_name,
        "SM_USER_ARGS": to_cli_args(env.hyperparameters, argv_style),
        "SM_TRAINING_ENV": values,
        "SM_HOST_COUNT": env.host_count,
        "SM_CURRENT_HOST_RANK": env.host_rank,
        "SM_MASTER_ADDR": env.master_addr,
        "SM_MASTER_PORT": env.master_port,
        "CURRENT_HOST": env.current_host,
        "SAGEMAKER_JOB_NAME": env.job_name,
        "SAGEMAKER_REGION": env.region,
    }
    if env.resource_config.topology:
        exported["SM_TOPOLOGY"] = env.resource_config.topology
    exported |= {f"SM_CHANNEL_{name.upper()}": str(channel.path) for name, channel in env.channels.items()}
    exported |= {f"SM_HP_{key.upper()}": value for key, value in env.hyperparameters.items()}
    return {key: format_value(value) for key, value in exported.items()}
