"""A local transform job's outcome as DescribeTransformJob answers it, plus Local* details.

Status: Completed when every input file was transformed; Failed when any file failed or the job could not run
to the end (the server never answered /ping, no input files...), with FailureReason (first 1024 chars, prefixed
`ClientError:` as the platform does) naming each failed file and, when the server died, its exit code and last
lines; Stopped when a stop signal arrived (exit code 128+N). Exit codes: 0, 1, 128+N.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from smtoolkit.launch.report import FAILURE_REASON_CHARS
from smtoolkit.local.jobs.common import JobReport
from smtoolkit.local.platform.modeldata import StagedModel
from smtoolkit.local.spec.transform import TransformJobSpec
from smtoolkit.paths import JobPaths
from smtoolkit.transform.progress import Summary
from smtoolkit.transform.request import TransformRequest
from smtoolkit.transform.settings import JobSettings


@dataclass
class TransformJobOutcome:
    """What happened, for the report."""

    started: float = field(default_factory=time.time)
    ended: float | None = None
    staged: StagedModel | None = None
    settings: JobSettings | None = None
    summary: Summary | None = None
    error: str | None = None  # why the job could not run to the end
    interrupted: int | None = None  # the stop signal received
    server_exit: int | None = None  # the server's exit code when it ended before it was stopped
    server_tail: str = ""  # the server's last lines of output


def _iso(timestamp: float | None) -> str | None:
    return None if timestamp is None else time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(timestamp))


def failure_reason(run: TransformJobOutcome) -> str | None:
    problems = []
    if run.error is not None:
        problems.append(run.error)
    if run.summary is not None and not run.summary.ok:
        problems += run.summary.lines()
    if not problems:
        return None
    reason = "ClientError: " + "\n".join(problems)
    if run.server_exit is None:
        return reason[:FAILURE_REASON_CHARS]
    reason = f"{reason[: FAILURE_REASON_CHARS // 2]}\nthe model server exited with code {run.server_exit}: "
    return reason + run.server_tail[-(FAILURE_REASON_CHARS - len(reason)) :]  # its last lines: the error


def _status(run: TransformJobOutcome) -> tuple[str, int, str | None]:
    if run.interrupted is not None:
        return "Stopped", 128 + run.interrupted, None
    reason = failure_reason(run)
    return ("Failed", 1, reason) if reason is not None else ("Completed", 0, None)


def _batch_fields(request: TransformRequest, settings: JobSettings | None) -> dict[str, Any]:
    """The values the job ran with (after /execution-parameters), else the request's."""
    if settings is not None:
        return {
            "MaxConcurrentTransforms": settings.concurrency,
            "MaxPayloadInMB": settings.max_payload_mb,
            "BatchStrategy": settings.batch_strategy,
        }
    values = {
        "MaxConcurrentTransforms": request.MaxConcurrentTransforms,
        "MaxPayloadInMB": request.MaxPayloadInMB,
        "BatchStrategy": request.BatchStrategy,
    }
    return {key: value for key, value in values.items() if value is not None}


def _summary_line(summary: Summary, done: int) -> str:
    if len(summary.outcomes) == summary.files:
        return summary.lines()[0]
    unfinished = summary.files - len(summary.outcomes)
    return (
        f"{done} of {summary.files} files transformed ({len(summary.failed)} failed, {unfinished} not started), "
        f"{summary.records} records in {summary.seconds:.1f} s"
    )


def _local_fields(run: TransformJobOutcome, paths: JobPaths) -> dict[str, Any]:
    local: dict[str, Any] = {
        "LocalModelDir": str(paths.model_dir),
        "LocalModelSource": run.staged.source if run.staged else None,
        "LocalCodeDir": str(run.staged.code_dir) if run.staged and run.staged.code_dir else None,
        "LocalServerLog": str(paths.base.parent / f"{paths.base.name}.log"),
    }
    summary = run.summary
    if summary is not None:
        done = [outcome for outcome in summary.outcomes if outcome.error is None]
        local["LocalOutputFiles"] = [{"Input": item.file.uri, "Output": item.location} for item in done]
        local["LocalFailedFiles"] = [{"Input": item.file.uri, "Error": item.error} for item in summary.failed]
        local["LocalSummary"] = {
            "Files": summary.files,
            "FilesTransformed": len(done),
            "Records": summary.records,
            "BytesIn": summary.bytes_in,
            "Seconds": round(summary.seconds, 3),
            "Text": _summary_line(summary, len(done)),
        }
    return local


def describe_transform(
    spec: TransformJobSpec, request: TransformRequest, run: TransformJobOutcome, arn: str, paths: JobPaths
) -> JobReport:
    status, exit_code, reason = _status(run)
    details: dict[str, Any] = {
        "TransformJobArn": arn,
        "ModelName": spec.described_model_name,
        **_batch_fields(request, run.settings),
        "ModelClientConfig": request.ModelClientConfig.model_dump(),
        "Environment": dict(request.Environment),
        "TransformInput": request.TransformInput.model_dump(exclude_none=True),
        "TransformOutput": request.TransformOutput.model_dump(exclude_none=True),
        "TransformResources": spec.transform_resources.model_dump(by_alias=True),
        "DataProcessing": request.DataProcessing.model_dump(),
        "CreationTime": _iso(run.started),
        "TransformStartTime": _iso(run.started),
        "TransformEndTime": _iso(run.ended),
        **_local_fields(run, paths),
    }
    return JobReport("TransformJob", spec.transform_job_name, status, None, exit_code, reason, details)
