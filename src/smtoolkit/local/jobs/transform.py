"""`smtoolkit local transform`: spec -> the model unpacked into a host tree -> `serve` on a loopback port -> the
transform runner (smtoolkit.transform) -> `.out` files at the output path -> server stopped -> the job's outcome
(`<work dir>/job.json`, DescribeTransformJob-shaped).

One host (`algo-1`): TransformResources.InstanceCount above 1 is run on one host, with a warning. The container's
environment is the model's Environment, then the job's, then the platform's (SAGEMAKER_BATCH=true, and
SAGEMAKER_MAX_PAYLOAD_IN_MB / _BATCH_STRATEGY / _MAX_CONCURRENT_TRANSFORMS only when the request sets them).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from smtoolkit.errors import SmtoolkitError
from smtoolkit.local.jobs.common import HostOutput, JobReport, LocalRunSettings
from smtoolkit.local.jobs.preflight import check_transform
from smtoolkit.local.jobs.transform_plan import TransformPlan
from smtoolkit.local.jobs.transform_report import TransformJobOutcome, describe_transform
from smtoolkit.local.platform.interrupt import JobInterrupted, StopSignals
from smtoolkit.local.platform.modeldata import stage_model
from smtoolkit.local.platform.modelserver import ModelServer
from smtoolkit.local.platform.tree import LOOPBACK, job_arn
from smtoolkit.local.platform.workdir import prepare_work_dir
from smtoolkit.local.spec.transform import TransformJobSpec
from smtoolkit.logs import masked
from smtoolkit.transform.client import execution_parameters, wait_for_ping
from smtoolkit.transform.progress import Summary
from smtoolkit.transform.request import TransformRequest
from smtoolkit.transform.runner import Endpoint, run_transform
from smtoolkit.transform.server import free_port
from smtoolkit.transform.settings import JobSettings, LocalOptions, resolve

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TransformRunOptions:
    startup_timeout: float = 600.0  # seconds for the server to answer /ping
    interactive: bool = False  # a progress bar instead of log lines
    local: LocalOptions = field(default_factory=LocalOptions)


def _transform_files(
    settings: JobSettings, port: int, environ: Mapping[str, str], run: TransformJobOutcome, tty: bool
) -> None:
    """Run the transform, keeping the outcomes of the files finished when a stop comes."""

    def keep(summary: Summary) -> None:
        run.summary = summary

    run_transform(settings, Endpoint(LOOPBACK, port), environ, tty, on_summary=keep)


def _transform(
    server: ModelServer, port: int, request: TransformRequest, options: TransformRunOptions, environ: Mapping[str, str]
) -> JobSettings:
    wait_for_ping(LOOPBACK, port, options.startup_timeout, server.alive)
    settings = resolve(request, execution_parameters(LOOPBACK, port), options.local)
    log.info("transform settings: %s", json.dumps(masked(settings.describe())))
    return settings


def run_local_transform(
    spec: TransformJobSpec,
    request: TransformRequest,
    plan: TransformPlan,
    settings: LocalRunSettings,
    options: TransformRunOptions,
) -> JobReport:
    """Execute the plan. Staging errors (a missing model, a bad archive) raise before the server starts; what
    goes wrong after that is the job's failure, reported (and written to job.json) rather than raised."""
    work_dir = plan.work_dir
    check_transform(spec, request, work_dir, settings.environ)
    prepare_work_dir(work_dir)
    if plan.instance_count > 1:
        log.warning("TransformResources.InstanceCount=%d: a local transform job runs on one host", plan.instance_count)
    paths = plan.paths
    output = HostOutput(settings.output, work_dir)
    run = TransformJobOutcome()
    server: ModelServer | None = None
    with StopSignals() as stop:
        try:
            try:
                run.staged = stage_model(spec.container, request.Environment, paths, settings.environ)
                port = free_port()
                launch = plan.launch(port, settings.environ)
                server = ModelServer(launch.host, launch.argv, launch.env, launch.cwd, output)
                server.start()
                run.settings = _transform(server, port, request, options, settings.environ)
                _transform_files(run.settings, port, settings.environ, run, options.interactive)
            except SmtoolkitError as exc:
                if run.staged is None:
                    raise
                run.error = str(exc)
            finally:
                stop.disarm()
        except JobInterrupted as exc:
            run.interrupted = exc.signum
        finally:
            stop.disarm()
            if server is not None:
                run.server_exit = None if server.alive() else server.exit_code
                server.stop(settings.grace_period, stop.hurry)
                run.server_tail = server.tail()
            output.close()
    run.ended = time.time()
    arn = job_arn("transform-job", spec.transform_job_name, settings.environ)
    report = describe_transform(spec, request, run, arn, paths)
    report.write(work_dir / "job.json")
    return report
