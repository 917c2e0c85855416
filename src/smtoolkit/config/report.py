"""Renderings of a TrainingEnv for people and shells: a table, JSON, and `export` lines."""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Iterable, Mapping
from typing import Any

from smtoolkit.config.export import format_value, to_env_vars
from smtoolkit.config.training import TrainingEnv
from smtoolkit.logs import masked

_SHELL_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def derived(env: TrainingEnv) -> dict[str, Any]:
    return {
        "current_host": env.current_host,
        "hosts": env.hosts,
        "master_hostname": env.master_hostname,
        "is_master": env.is_master,
        "host_rank": env.host_rank,
        "host_count": env.host_count,
        "distribution_hosts": env.distribution_hosts,
        "distribution_instance_groups": env.distribution_instance_groups,
        "module_name": env.module_name,
        "module_dir": env.module_dir,
        "num_cpus": env.num_cpus,
        "num_gpus": env.num_gpus,
        "num_neurons": env.num_neurons,
        "channels": {name: str(channel.path) for name, channel in env.channels.items()},
    }


def as_json(env: TrainingEnv) -> str:
    document = {"environment": env.model_dump(mode="json"), "derived": derived(env)}
    return json.dumps(document, indent=2, sort_keys=True)


def as_exports(env: TrainingEnv) -> str:
    lines = []
    for name, value in sorted(to_env_vars(env).items()):
        if _SHELL_NAME.match(name):
            lines.append(f"export {name}={shlex.quote(value)}")
        else:
            lines.append(f"# not a shell name, left out: {name}")
    return "\n".join(lines) + "\n"


def _section(title: str, rows: Iterable[tuple[str, Any]]) -> list[str]:
    rows = list(rows)
    width = max((len(key) for key, _ in rows), default=0)
    lines = [title]
    lines += [f"  {key.ljust(width)}  {format_value(value) if value != '' else '-'}" for key, value in rows]
    if not rows:
        lines.append("  (none)")
    return lines + [""]


def _mapping_rows(mapping: Mapping[str, Any]) -> list[tuple[str, Any]]:
    return sorted(masked(mapping).items())


def as_table(env: TrainingEnv) -> str:
    resources = env.resource_config
    lines = _section(
        "Job",
        [
            ("job name", env.job_name or ""),
            ("region", env.region or ""),
            ("base dir", str(env.base_dir)),
            ("entry point", env.user_entry_point or ""),
            ("code", env.module_dir),
            ("framework module", env.framework_module or ""),
            ("log level", env.log_level),
        ],
    )
    lines += _section(
        "Hosts",
        [
            ("current host", env.current_host),
            ("hosts", env.hosts),
            ("master", env.master_hostname),
            ("rank / count", f"{env.host_rank} / {env.host_count}"),
            ("instance type", resources.current_instance_type),
            ("instance group", resources.current_group_name),
            ("distribution hosts", env.distribution_hosts),
            ("network interface", resources.network_interface_name),
            ("cpus / gpus / neurons", f"{env.num_cpus} / {env.num_gpus} / {env.num_neurons}"),
        ],
    )
    lines += _section(
        "Channels",
        [
            (
                name,
                f"{ch.input_mode:<8} {ch.content_type or '-':<20} {ch.config.s3_distribution_type:<16} {ch.path}",
            )
            for name, ch in env.channels.items()
        ],
    )
    lines += _section("Hyperparameters", _mapping_rows(env.hyperparameters))
    lines += _section("Framework parameters", _mapping_rows(env.framework_params))
    lines += _section(
        "Paths",
        [
            ("model", str(env.model_dir)),
            ("output", str(env.output_dir)),
            ("output data", str(env.output_data_dir)),
            ("checkpoints", str(env.checkpoint_config.local_path) if env.checkpoint_config else ""),
        ],
    )
    if env.processing is not None:
        processing = env.processing
        lines += _section("Processing inputs", [(n, str(i.local_path)) for n, i in processing.inputs.items()])
        lines += _section("Processing outputs", [(n, str(o.local_path)) for n, o in processing.outputs.items()])
    return "\n".join(lines)
