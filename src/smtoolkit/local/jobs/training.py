"""`smtoolkit local train`: spec -> per-host job trees and staged channels -> `train` on every host -> artifacts
and the job's outcome (`<work dir>/job.json`, DescribeTrainingJob-shaped).

Each host runs `python -m smtoolkit train` (the container's `train`) with SAGEMAKER_BASE_DIR at its tree, or
AlgorithmSpecification.ContainerEntrypoint + ContainerArguments when given (arguments alone replace `train`, as
with an image whose ENTRYPOINT is `smtoolkit`); with an image (`--image`), `docker run IMAGE train` instead
(smtoolkit.local.platform.container). In-process hosts run under their own names where Linux namespaces allow
(smtoolkit.local.platform.hostnames). An MPI job's hosts share `<work dir>/.mpi` (SMTOOLKIT_MPI_LOCAL_DIR):
mpirun starts every host's ranks on this machine without ssh (smtoolkit.launch.mpi_local).
"""

from __future__ import annotations

import logging
import signal
from dataclasses import replace
from pathlib import Path

from smtoolkit.formats.pipe import PipeWriter
from smtoolkit.local.jobs.common import HostOutput, JobReport, LocalRunSettings, local_hosts, read_reason, status_of
from smtoolkit.local.jobs.plan import LocalPlan, launches
from smtoolkit.local.jobs.preflight import check_training
from smtoolkit.local.jobs.training_plan import output_path, plan_training
from smtoolkit.local.platform import artifacts, livesync, staging
from smtoolkit.local.platform.container import ContainerHosts
from smtoolkit.local.platform.hostnames import as_host, host_naming
from smtoolkit.local.platform.metrics import MetricCollector
from smtoolkit.local.platform.runner import RunOutcome, run_hosts
from smtoolkit.local.platform.store import ObjectStore
from smtoolkit.local.platform.tree import host_paths, in_tree, job_arn, make_tree
from smtoolkit.local.platform.workdir import OUTPUT_DIR, prepare_work_dir
from smtoolkit.local.spec.training import TrainingJobSpec
from smtoolkit.paths import JobPaths

log = logging.getLogger(__name__)


def _stage_channels(
    spec: TrainingJobSpec, store: ObjectStore, trees: dict[str, JobPaths], cache: Path, writers: list[PipeWriter]
) -> None:
    """Stage every channel on every host; Pipe-mode writers are appended to `writers` as they start."""
    hosts = list(trees)
    for channel in spec.input_data_config:
        objects = store.list_objects(channel.data_source.uri)
        mode = spec.input_mode(channel)
        for index, host in enumerate(hosts):
            share = staging.host_share(objects, channel.data_source.distribution, index, len(hosts))
            channel_dir = trees[host].channel_dir(channel.channel_name)
            if mode != "Pipe":
                staging.stage_files(store, share, channel_dir, read_only=mode == "FastFile")
                continue
            feed = staging.PipeFeed(
                staging.local_copies(store, share, cache / host / channel.channel_name),
                gzip_compressed=channel.compression_type == "Gzip",
                recordio=channel.record_wrapper_type == "RecordIO",
                shuffle_seed=channel.shuffle_config.seed if channel.shuffle_config else None,
            )
            writers.append(staging.start_pipe(channel_dir, feed))
        log.info(
            "channel %s: %d objects, %s mode, %s",
            channel.channel_name,
            len(objects),
            mode,
            channel.data_source.distribution,
        )


def run_local_training(spec: TrainingJobSpec, settings: LocalRunSettings) -> JobReport:
    """Plan the job, then run it; preparation errors (bad source, unreadable S3) raise before any host starts."""
    return execute_training(spec, plan_training(spec, settings), settings)


def execute_training(spec: TrainingJobSpec, plan: LocalPlan, settings: LocalRunSettings) -> JobReport:
    """Do what `plan` says: trees, checkpoints restored, channels staged, hosts run, mirrors, artifacts, report."""
    work_dir = plan.work_dir
    store = ObjectStore(settings.environ)
    check_training(spec, work_dir, settings.environ)
    containers = None
    if settings.image and plan.network:
        containers = ContainerHosts(settings.image, plan.network, settings.environ, settings.grace_period)
        containers.check()
    prepare_work_dir(work_dir)
    make_tree(list(plan.directories), dict(plan.files))
    trees = {host: host_paths(work_dir, host) for host in spec.hosts}
    if spec.checkpoint_config is not None:
        checkpoint_dirs = [in_tree(spec.checkpoint_config.local_path, paths) for paths in trees.values()]
        restored = artifacts.restore_checkpoints(store, spec.checkpoint_config.s3_uri, checkpoint_dirs)
        log.info("restored %d checkpoint files from %s", restored, spec.checkpoint_config.s3_uri)
    metrics = MetricCollector([(item.name, item.regex) for item in spec.algorithm_specification.metric_definitions])
    output = HostOutput(settings.output, work_dir, metrics)
    writers: list[PipeWriter] = []
    arn = job_arn("training-job", spec.training_job_name, settings.environ)
    hosts = launches(plan, settings.environ)
    if containers is not None:
        containers.open()
    else:
        naming = host_naming(work_dir, spec.hosts, settings.hostnames)
        hosts = [replace(host, argv=as_host(naming, host.host, host.argv, trees[host.host].base)) for host in hosts]
    destination = output_path(spec, work_dir)
    mirrors = livesync.start_mirrors(spec, list(trees.values()), destination, settings.environ)
    mirror_problems: list[str] = []
    try:
        _stage_channels(spec, store, trees, work_dir / ".cache", writers)
        outcome = run_hosts(
            hosts,
            output,
            stop_signal=signal.SIGTERM,
            grace_period=settings.grace_period,
            max_runtime=spec.stopping_condition.max_runtime_in_seconds,
        )
    finally:
        for writer in writers:
            writer.stop()
        output.close()
        if containers is not None:
            containers.close(spec.hosts)
        mirror_problems = livesync.stop_mirrors(mirrors)
    livesync.collect_metric_files(list(trees.values()), metrics)
    keep_dir = Path(artifacts.artifact_prefix(str(work_dir / OUTPUT_DIR), spec.training_job_name))
    packed = artifacts.pack_training_artifacts(
        store,
        [paths.model_dir for paths in trees.values()],
        [paths.output_data_dir for paths in trees.values()],
        destination,
        spec.training_job_name,
        keep_dir,
    )
    artifact_error = packed.error and f"{packed.error}; the packed artifacts are kept in {packed.kept}"
    upload_error = "\n".join(filter(None, [artifact_error, *mirror_problems])) or None
    report = _report(spec, outcome, trees, packed, metrics, arn, destination, upload_error)
    report.write(work_dir / "job.json")
    return report


def _report(
    spec: TrainingJobSpec,
    outcome: RunOutcome,
    trees: dict[str, JobPaths],
    packed: artifacts.Artifacts,
    metrics: MetricCollector,
    arn: str,
    output_path: str,
    upload_error: str | None,
) -> JobReport:
    """The job's outcome; a job whose code succeeded but whose artifacts could not be put at the output path
    failed, as on the platform (exit code 1)."""
    status, secondary, exit_code = status_of(outcome)
    failure = outcome.first_failure
    reason = None
    if status == "Failed" and failure is not None:
        reason = read_reason(trees[failure.host].failure_file) or (
            f"AlgorithmError: host {failure.host} exited with code {failure.exit_code} and wrote no output/failure"
        )
    if upload_error:  # the model artifacts, checkpoints or intermediate output not at their destination
        reason = "\n".join(filter(None, [reason, *(f"ClientError: {line}" for line in upload_error.splitlines())]))
        if status == "Completed":
            status, secondary, exit_code = "Failed", "Failed", 1
    details = {
        "TrainingJobArn": arn,
        "ModelArtifacts": {"S3ModelArtifacts": packed.model},
        "OutputDataConfig": {"S3OutputPath": output_path},
        "LocalOutputArtifacts": packed.output,
        "FinalMetricDataList": metrics.final_metric_data(),
        "LocalHosts": local_hosts(outcome, trees),
    }
    if packed.kept is not None:
        details["LocalKeptArtifacts"] = str(packed.kept)
    table = metrics.table() if metrics.defined else None
    return JobReport("TrainingJob", spec.training_job_name, status, secondary, exit_code, reason, details, table)
