"""The plan of a local training job (`plan_training`): each host's `train` (a process, or `docker run IMAGE
train` with `--image`), its variables, the config files of its tree, the channels staged into it, and where the
model, output data, checkpoints and intermediate output go. Pure: nothing is read from S3, written or started.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from smtoolkit.dirsync.intermediate import intermediate_prefix
from smtoolkit.local.jobs.common import LocalRunSettings, host_variables, with_this_python
from smtoolkit.local.jobs.common import python_argv as smtoolkit_argv
from smtoolkit.local.jobs.plan import LocalPlan, Transfer
from smtoolkit.local.platform import livesync
from smtoolkit.local.platform.artifacts import artifact_prefix
from smtoolkit.local.platform.container import ContainerHosts, job_network, local_source_mounts
from smtoolkit.local.platform.runner import HostLaunch
from smtoolkit.local.platform.tree import checkpoint_mount, host_paths, in_tree, job_arn, training_tree
from smtoolkit.local.spec.training import TrainingJobSpec
from smtoolkit.paths import JobPaths

MPI_LOCAL_DIR_VARIABLE = "SMTOOLKIT_MPI_LOCAL_DIR"  # read by smtoolkit.config.engine


def host_argv(spec: TrainingJobSpec) -> tuple[str, ...]:
    algorithm = spec.algorithm_specification
    if algorithm.container_entrypoint:
        return (*with_this_python(algorithm.container_entrypoint), *(algorithm.container_arguments or []))
    return smtoolkit_argv(*(algorithm.container_arguments or ["train"]))


def output_path(spec: TrainingJobSpec, work_dir: Path) -> str:
    return spec.output_data_config.s3_output_path or str(work_dir / "output")


def plan_training(spec: TrainingJobSpec, settings: LocalRunSettings) -> LocalPlan:
    work_dir = settings.work_dir.resolve()
    trees = {host: host_paths(work_dir, host) for host in spec.hosts}
    arn = job_arn("training-job", spec.training_job_name, settings.environ)
    platform_env = {"TRAINING_JOB_NAME": spec.training_job_name, "TRAINING_JOB_ARN": arn}
    directories: list[Path] = []
    files: dict[Path, Any] = {}
    for host, paths in trees.items():
        made, written = training_tree(spec, paths, host, in_container=settings.image is not None)
        directories += made
        files.update(written)
    network = None
    if settings.image:
        network = job_network(spec.training_job_name)
        hosts = _container_hosts(spec, settings, trees, network, platform_env)
    else:
        hosts = _process_hosts(spec, work_dir, trees, platform_env)
    return LocalPlan(
        "TrainingJob",
        spec.training_job_name,
        work_dir,
        tuple(hosts),
        tuple(directories),
        files,
        _inputs(spec, trees),
        _outputs(spec, trees, output_path(spec, work_dir)),
        runner=f"docker {settings.image} (network {network})" if settings.image else "processes",
        hostnames="container" if settings.image else settings.hostnames,
        network=network,
    )


def _process_hosts(
    spec: TrainingJobSpec, work_dir: Path, trees: dict[str, JobPaths], platform_env: dict[str, str]
) -> list[HostLaunch]:
    extra = dict(platform_env)
    if len(trees) > 1:
        extra[MPI_LOCAL_DIR_VARIABLE] = str(work_dir / ".mpi")
    return [
        HostLaunch(
            host,
            host_argv(spec),
            host_variables(spec.environment, paths.base, spec.hosts, {**extra, **livesync.metrics_variable(paths)}),
            paths.base,
        )
        for host, paths in trees.items()
    ]


def _container_hosts(
    spec: TrainingJobSpec,
    settings: LocalRunSettings,
    trees: dict[str, JobPaths],
    network: str,
    platform_env: dict[str, str],
) -> list[HostLaunch]:
    assert settings.image is not None
    containers = ContainerHosts(settings.image, network, settings.environ, settings.grace_period)
    algorithm = spec.algorithm_specification
    command = (algorithm.container_entrypoint or [], algorithm.container_arguments or ["train"])
    mounts = local_source_mounts(spec.hyperparameters)
    job_env = {**spec.environment, **platform_env, **livesync.CONTAINER_METRICS_ENV}
    launches = []
    for host, paths in trees.items():
        writable = [mount] if (mount := checkpoint_mount(spec, paths)) else []
        launches.append(containers.launch(host, paths.base, command, job_env, mounts, writable))
    return launches


def _inputs(spec: TrainingJobSpec, trees: dict[str, JobPaths]) -> tuple[Transfer, ...]:
    staged = [
        Transfer(
            channel.data_source.uri,
            str(paths.channel_dir(channel.channel_name)),
            f"{spec.input_mode(channel)}, {channel.data_source.distribution}",
        )
        for channel in spec.input_data_config
        for paths in trees.values()
    ]
    if spec.checkpoint_config is not None:
        checkpoints = spec.checkpoint_config
        staged += [
            Transfer(checkpoints.s3_uri, str(in_tree(checkpoints.local_path, paths)), "checkpoints restored")
            for paths in trees.values()
        ]
    return tuple(staged)


def _outputs(spec: TrainingJobSpec, trees: dict[str, JobPaths], output: str) -> tuple[Transfer, ...]:
    prefix = artifact_prefix(output, spec.training_job_name)
    collected = []
    for paths in trees.values():
        collected += [
            Transfer(str(paths.model_dir), f"{prefix}/model.tar.gz", "packed after the job, hosts merged"),
            Transfer(str(paths.output_data_dir), f"{prefix}/output.tar.gz", "packed after the job, hosts merged"),
            Transfer(
                str(paths.output_intermediate_dir),
                intermediate_prefix(output, spec.training_job_name),
                "mirrored while the job runs and at its end",
            ),
        ]
        if spec.checkpoint_config is not None:
            local = in_tree(spec.checkpoint_config.local_path, paths)
            how = "mirrored (deletions too) while the job runs and at its end"
            collected.append(Transfer(str(local), spec.checkpoint_config.s3_uri, how))
    return tuple(collected)
