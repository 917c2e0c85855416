"""`smtoolkit local process`: spec -> per-host trees with processingjobconfig.json, resourceconfig.json and the
inputs staged -> the command under `smtoolkit process` on every host -> outputs put at their S3Uri -> the job's
outcome (`<work dir>/job.json`, DescribeProcessingJob-shaped).

Paths under /opt/ml/ in the config and in the command's arguments are rewritten to the host's tree (nothing is
written to /opt). The command runs in the directory `smtoolkit local process` was started from. Stopping follows
the processing contract: SIGINT, then SIGKILL after the grace period.
"""

from __future__ import annotations

import logging
import signal
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

from smtoolkit.dirsync.uploader import FolderUploader
from smtoolkit.errors import SmtoolkitError
from smtoolkit.local.jobs.common import HostOutput, JobReport, LocalRunSettings, local_hosts, read_reason, status_of
from smtoolkit.local.jobs.plan import LocalPlan, launches
from smtoolkit.local.jobs.preflight import check_processing
from smtoolkit.local.jobs.processing_plan import plan_processing
from smtoolkit.local.platform import staging
from smtoolkit.local.platform.hostnames import as_host, host_naming
from smtoolkit.local.platform.outputs import continuous_upload, put_folder
from smtoolkit.local.platform.runner import RunOutcome, run_hosts
from smtoolkit.local.platform.store import ObjectStore
from smtoolkit.local.platform.tree import host_paths, in_tree, job_arn, make_tree
from smtoolkit.local.platform.workdir import prepare_work_dir
from smtoolkit.local.spec.processing import ProcessingJobSpec
from smtoolkit.paths import JobPaths

log = logging.getLogger(__name__)

EXIT_MESSAGE_BYTES = 1024


def _stage_inputs(spec: ProcessingJobSpec, store: ObjectStore, trees: dict[str, JobPaths]) -> None:
    hosts = list(trees)
    for item in spec.processing_inputs:
        source = item.s3_input
        objects = store.list_objects(source.s3_uri)
        for index, host in enumerate(hosts):
            share = staging.host_share(objects, source.s3_data_distribution_type, index, len(hosts))
            staging.stage_files(store, share, in_tree(source.local_path, trees[host]))


def _end_of_job_outputs(spec: ProcessingJobSpec, trees: dict[str, JobPaths]) -> list[tuple[Path, str]]:
    """(host folder, S3Uri) of every EndOfJob output on every host."""
    outputs = spec.processing_output_config.outputs
    return [
        (in_tree(output.s3_output.local_path, paths), output.s3_output.s3_uri)
        for output in outputs
        if output.s3_output.s3_upload_mode != "Continuous"
        for paths in trees.values()
    ]


def _start_continuous(
    spec: ProcessingJobSpec, trees: dict[str, JobPaths], environ: Mapping[str, str]
) -> list[FolderUploader]:
    uploads: list[FolderUploader] = []
    try:
        for output in spec.processing_output_config.outputs:
            if output.s3_output.s3_upload_mode == "Continuous":
                local = [in_tree(output.s3_output.local_path, paths) for paths in trees.values()]
                uploads += [continuous_upload(output.output_name, d, output.s3_output.s3_uri, environ) for d in local]
    except BaseException:
        _stop_continuous(uploads)
        raise
    return uploads


def _stop_continuous(uploads: list[FolderUploader]) -> list[str]:
    """The final pass of each Continuous output; why each one left files behind."""
    for upload in uploads:
        upload.stop()
    return [problem for upload in uploads if (problem := upload.unsent_problem())]


def run_local_processing(spec: ProcessingJobSpec, settings: LocalRunSettings) -> JobReport:
    """Plan the job, then run it; preparation errors raise before any host starts."""
    return execute_processing(spec, plan_processing(spec, settings), settings)


def execute_processing(spec: ProcessingJobSpec, plan: LocalPlan, settings: LocalRunSettings) -> JobReport:
    """Do what `plan` says: trees, inputs staged, hosts run, outputs put (Continuous ones while they run), report."""
    work_dir = plan.work_dir
    store = ObjectStore(settings.environ)
    check_processing(spec, work_dir, settings.environ, settings.cwd)
    prepare_work_dir(work_dir)
    make_tree(list(plan.directories), dict(plan.files))
    trees = {host: host_paths(work_dir, host) for host in spec.hosts}
    _stage_inputs(spec, store, trees)
    naming = host_naming(work_dir, spec.hosts, settings.hostnames)
    hosts = [
        replace(host, argv=as_host(naming, host.host, host.argv, trees[host.host].base))
        for host in launches(plan, settings.environ)
    ]
    output = HostOutput(settings.output, work_dir)
    continuous = _start_continuous(spec, trees, settings.environ)
    upload_errors: list[str | None] = []
    try:
        outcome = run_hosts(
            hosts,
            output,
            stop_signal=signal.SIGINT,
            grace_period=settings.grace_period,
            max_runtime=spec.stopping_condition.max_runtime_in_seconds,
        )
    finally:
        output.close()
        upload_errors += _stop_continuous(continuous)
    upload_errors += [_put_outputs(store, local, uri) for local, uri in _end_of_job_outputs(spec, trees)]
    report = _report(
        spec,
        outcome,
        trees,
        job_arn("processing-job", plan.name, settings.environ),
        [error for error in upload_errors if error],
    )
    report.write(work_dir / "job.json")
    return report


def _put_outputs(store: ObjectStore, local: Path, uri: str) -> str | None:
    """Put one EndOfJob output; why it failed (the files stay in the host's tree), or None."""
    try:
        put_folder(store, local, uri)
    except SmtoolkitError as exc:
        log.error("%s", exc)
        return str(exc)
    return None


def _report(
    spec: ProcessingJobSpec, outcome: RunOutcome, trees: dict[str, JobPaths], arn: str, upload_errors: list[str]
) -> JobReport:
    """The job's outcome; outputs that could not be put at their S3Uri fail the job (exit code 1), saying where
    the files are kept."""
    status, secondary, exit_code = status_of(outcome)
    messages = [text for paths in trees.values() if (text := read_reason(paths.message_file))]
    exit_message = "".join(messages).encode("utf-8")[:EXIT_MESSAGE_BYTES].decode("utf-8", "ignore")
    failure = outcome.first_failure
    reason = None
    if status == "Failed" and failure is not None:
        reason = f"AlgorithmError: host {failure.host} exited with code {failure.exit_code}"
    if upload_errors:
        kept = ", ".join(str(paths.base / "processing") for paths in trees.values())
        upload_reason = f"ClientError: {'; '.join(upload_errors)}; the outputs are kept in {kept}"
        reason = "\n".join(filter(None, [reason, upload_reason]))
        if status == "Completed":
            status, secondary, exit_code = "Failed", "Failed", 1
    details = {
        "ProcessingJobArn": arn,
        "ExitMessage": exit_message,
        "ProcessingOutputConfig": {
            "Outputs": [item.model_dump(by_alias=True) for item in spec.processing_output_config.outputs]
        },
        "LocalHosts": local_hosts(outcome, trees),
    }
    return JobReport("ProcessingJob", spec.processing_job_name, status, secondary, exit_code, reason, details)
