"""What the `smtoolkit local` commands share: the common flags, the run settings, the plan
printed by a dry run or executed, and the summary.

Top-level imports stay light (click and the standard library); each command imports what it runs.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

import click

if TYPE_CHECKING:
    from pydantic import BaseModel

    from smtoolkit.local.jobs.common import JobReport, LocalRunSettings
    from smtoolkit.local.jobs.plan import LocalPlan

    SpecT = TypeVar("SpecT", bound=BaseModel)

DEFAULT_WORK_ROOT = Path("smtoolkit-local")


def warn_not_simulated(names: list[str], source: str) -> None:
    from smtoolkit.config.apifields import not_simulated_warning

    if names:
        click.echo(not_simulated_warning(source, names), err=True)


def job_summary(report: JobReport, work_dir: Path) -> str:
    described = report.describe()
    lines = [f"{report.kind} {report.name}: {report.status} (exit code {report.exit_code})"]
    if report.failure_reason:
        lines.append("failure reason: " + report.failure_reason.strip().replace("\n", "\n  "))
    if described.get("ExitMessage"):
        lines.append("exit message: " + str(described["ExitMessage"]).strip().replace("\n", "\n  "))
    if "ModelArtifacts" in described:
        lines.append(f"model artifacts: {described['ModelArtifacts']['S3ModelArtifacts']}")
        lines.append(f"output data:     {described['LocalOutputArtifacts']}")
    if "LocalKeptArtifacts" in described:
        lines.append(f"kept here:       {described['LocalKeptArtifacts']}  (they could not be put at the output path)")
    lines.append(f"job trees:       {work_dir}/<host>  (logs: {work_dir}/<host>.log)")
    lines.append(f"description:     {work_dir / 'job.json'}")
    if report.metrics_table:
        lines += ["metrics:", report.metrics_table]
    return "\n".join(lines)


def run_settings(
    work_dir: Path | None, name: str, grace_period: float, image: str | None = None, hostnames: str = "auto"
) -> LocalRunSettings:
    import os

    from smtoolkit.local.jobs.common import LocalRunSettings  # noqa: F811 - lazily
    from smtoolkit.local.platform.hostnames import HostnameMode

    mode = cast(HostnameMode, hostnames)  # click.Choice checked it
    return LocalRunSettings(work_dir or DEFAULT_WORK_ROOT / name, os.environ, grace_period, image=image, hostnames=mode)


COMMON_OPTIONS = [
    click.option(
        "--work-dir",
        type=click.Path(file_okay=False, path_type=Path),
        help="Where the job trees go [./smtoolkit-local/<job>].",
    ),
    click.option("--job-name", help="The job's name (default: from the spec, else generated)."),
    click.option("--instance-count", type=click.IntRange(1, 16), help="Hosts to run (algo-1..N, on loopback)."),
    click.option("-e", "--env", "environment", multiple=True, metavar="KEY=VALUE", help="Add to Environment."),
    click.option("--max-run", type=click.IntRange(min=1), help="StoppingCondition.MaxRuntimeInSeconds."),
    click.option(
        "--grace-period",
        type=click.FloatRange(min=0),
        default=120.0,
        show_default=True,
        help="Seconds between the stop signal and SIGKILL.",
    ),
    click.option(
        "--hostnames",
        type=click.Choice(["auto", "on", "off"]),  # smtoolkit.local.platform.hostnames.HostnameMode
        default="auto",
        show_default=True,
        help="Run each host under its own hostname with algo-N resolvable (Linux namespaces): auto where "
        "possible, on (or fail), off.",
    ),
    click.option(
        "--dry-run", is_flag=True, help="Print the plan (hosts, trees, inputs, outputs) as JSON; write, start nothing."
    ),
]


@dataclass(frozen=True)
class CommonOptions:
    """The values of `COMMON_OPTIONS`, handed to a command as `common`."""

    work_dir: Path | None
    job_name: str | None
    instance_count: int | None
    environment: Sequence[str]
    max_run: int | None
    grace_period: float
    hostnames: str
    dry_run: bool


def with_common_options(function: Callable[..., None]) -> Callable[..., None]:
    """Add `COMMON_OPTIONS` to a command; its function gets their values as one `common` argument."""

    @functools.wraps(function)
    def command(*args: Any, **values: Any) -> None:
        common = CommonOptions(
            work_dir=values.pop("work_dir"),
            job_name=values.pop("job_name"),
            instance_count=values.pop("instance_count"),
            environment=values.pop("environment"),
            max_run=values.pop("max_run"),
            grace_period=values.pop("grace_period"),
            hostnames=values.pop("hostnames"),
            dry_run=values.pop("dry_run"),
        )
        function(*args, common=common, **values)

    for option in reversed(COMMON_OPTIONS):
        command = option(command)
    return command


def run_job(
    validated: tuple[SpecT, list[str]],
    name: str,
    source: str,
    common: CommonOptions,
    plan: Callable[[SpecT, LocalRunSettings], LocalPlan],
    execute: Callable[[SpecT, LocalPlan, LocalRunSettings], JobReport],
    dry_check: Callable[[SpecT, LocalRunSettings], None],
    image: str | None = None,
) -> None:
    """Warn about what is not simulated, then plan the job and print the plan (--dry-run: checked as a real run
    would be but for a write probe; nothing written or started) or execute it, print its summary and exit with its
    exit code."""
    job, not_simulated = validated
    warn_not_simulated(not_simulated, source)
    settings = run_settings(common.work_dir, name, common.grace_period, image, common.hostnames)
    planned = plan(job, settings)
    if common.dry_run:
        dry_check(job, settings)
        click.echo(planned.text())
        return
    report = execute(job, planned, settings)
    click.echo(job_summary(report, settings.work_dir.resolve()))
    sys.exit(report.exit_code)
