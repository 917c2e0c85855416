"""The plan of a local processing job (`plan_processing`): each host's `smtoolkit process -- ENTRYPOINT ARGS`
(arguments under /opt/ml/ pointed at the host's tree), its variables, the config files of its tree, the inputs
staged into it and where each output goes. Pure: nothing is read from S3, written or started.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from smtoolkit.local.jobs.common import LocalRunSettings, host_variables, with_this_python
from smtoolkit.local.jobs.common import python_argv as smtoolkit_argv
from smtoolkit.local.jobs.plan import LocalPlan, Transfer
from smtoolkit.local.platform.runner import HostLaunch
from smtoolkit.local.platform.tree import host_paths, in_tree, job_arn, processing_tree
from smtoolkit.local.spec.processing import ProcessingJobSpec
from smtoolkit.paths import DEFAULT_BASE_DIR, JobPaths


def in_tree_argv(argv: Sequence[str], paths: JobPaths) -> list[str]:
    """Arguments that are paths under /opt/ml/ pointed at the host's tree."""
    prefix = f"{DEFAULT_BASE_DIR}/"
    return [str(in_tree(arg, paths)) if arg.startswith(prefix) else arg for arg in argv]


def plan_processing(spec: ProcessingJobSpec, settings: LocalRunSettings) -> LocalPlan:
    work_dir = settings.work_dir.resolve()
    trees = {host: host_paths(work_dir, host) for host in spec.hosts}
    arn = job_arn("processing-job", spec.processing_job_name, settings.environ)
    directories: list[Path] = []
    files: dict[Path, Any] = {}
    for host, paths in trees.items():
        made, written = processing_tree(spec, paths, host, arn)
        directories += made
        files.update(written)
    command = with_this_python(spec.command)
    hosts = tuple(
        HostLaunch(
            host,
            smtoolkit_argv("process", "--", *in_tree_argv(command, paths)),
            host_variables(spec.environment, paths.base, spec.hosts, {}),
            settings.cwd,
        )
        for host, paths in trees.items()
    )
    inputs = tuple(
        Transfer(
            item.s3_input.s3_uri,
            str(in_tree(item.s3_input.local_path, paths)),
            f"{item.input_name}, {item.s3_input.s3_data_distribution_type}",
        )
        for item in spec.processing_inputs
        for paths in trees.values()
    )
    outputs = tuple(
        Transfer(
            str(in_tree(output.s3_output.local_path, paths)),
            output.s3_output.s3_uri,
            f"{output.output_name}, {output.s3_output.s3_upload_mode}",
        )
        for output in spec.processing_output_config.outputs
        for paths in trees.values()
    )
    return LocalPlan(
        "ProcessingJob",
        spec.processing_job_name,
        work_dir,
        hosts,
        tuple(directories),
        files,
        inputs,
        outputs,
        hostnames=settings.hostnames,
    )
