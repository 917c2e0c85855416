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
from smtoolkit.local.jobs.common import HostOutput, JobReport, LocalRunSettings, host_environment
from smtoolkit.local.jobs.common import python_argv as smtoolkit_argv
from smtoolkit.local.jobs.preflight import check_transform
from smtoolkit.local.jobs.transform_report import TransformJobOutcome, describe_transform
from smtoolkit.local.platform.interrupt import JobInterrupted, StopSignals
from smtoolkit.local.platform.modeldata import StagedModel, stage_model
from smtoolkit.local.platform.modelserver import ModelServer
from smtoolkit.local.platform.tree import LOOPBACK, host_paths, job_arn
from smtoolkit.local.platform.workdir import prepare_work_dir
from smtoolkit.local.spec.transform import TransformJobSpec
from smtoolkit.logs import masked
from smtoolkit.paths import JobPaths
from smtoolkit.transform.client import execution_parameters, wait_for_ping
from smtoolkit.transform.progress import Summary
from smtoolkit.transform.request import TransformRequest
from smtoolkit.transform.runner import Endpoint, run_transform
from smtoolkit.transform.server import ServeOptions, free_port, server_environment
from smtoolkit.transform.settings import JobSettings, LocalOptions, resolve

log = logging.getLogger(__name__)

HOST = "algo-1"


@dataclass(frozen=True)
class TransformRunOptions:
    workers: int | None = None  # SAGEMAKER_MODEL_SERVER_WORKERS (default: the server's, one per CPU)
    startup_timeout: float = 600.0  # seconds for the server to answer /ping
    interactive: bool = False  # a progress bar instead of log lines
    local: LocalOptions = field(default_factory=LocalOptions)


def _server_env(
    spec: TransformJobSpec,
    request: TransformRequest,
    paths: JobPaths,
    staged: StagedModel,
    port: int,
    environ: Mapping[str, str],
    workers: int | None,
) -> dict[str, str]:
    inherited = host_environment(environ, spec.container.environment, paths.base, [HOST], {})
    options = ServeOptions(code_dir=staged.code_dir, workers=workers)
    return server_environment(request, options, port, inherited, paths.base)


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
    spec: TransformJobSpec, request: TransformRequest, settings: LocalRunSettings, options: TransformRunOptions
) -> JobReport:
    """Run the whole job. Staging errors (a missing model, a bad archive) raise before the server starts; what
    goes wrong after that is the job's failure, reported (and written to job.json) rather than raised."""
    work_dir = settings.work_dir.resolve()
    check_transform(spec, request, work_dir, settings.environ)
    prepare_work_dir(work_dir)
    if spec.transform_resources.instance_count > 1:
        log.warning(
            "TransformResources.InstanceCount=%d: a local transform job runs on one host",
            spec.transform_resources.instance_count,
        )
    paths = host_paths(work_dir, HOST)
    output = HostOutput(settings.output, work_dir)
    run = TransformJobOutcome()
    server: ModelServer | None = None
    with StopSignals() as stop:
        try:
            try:
                run.staged = stage_model(spec.container, request.Environment, paths, settings.environ)
                port = free_port()
                env = _server_env(spec, request, paths, run.staged, port, settings.environ, options.workers)
                server = ModelServer(HOST, smtoolkit_argv("serve"), env, paths.base, output)
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
