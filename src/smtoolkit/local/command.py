"""`smtoolkit local ...`: whole jobs on this machine, no cloud, no Docker.

Register with `cli.add_command(local)`. Top-level imports stay light (click and the standard library); each
command imports what it runs. Subcommands: `train`, `process`, and `transform` (defined in `local.transformcli`,
added at the end of this file).
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

import click

if TYPE_CHECKING:
    from pydantic import BaseModel

    from smtoolkit.local.job import JobReport, LocalRunSettings

    SpecT = TypeVar("SpecT", bound=BaseModel)

DEFAULT_WORK_ROOT = Path("smtoolkit-local")


@click.group("local", context_settings={"help_option_names": ["-h", "--help"]})
def local() -> None:
    """Run a whole job on this machine (no cloud, no Docker): the platform's side simulated, the container's
    side run by the toolkit itself."""


def warn_not_simulated(names: list[str], source: str) -> None:
    from smtoolkit.config.apifields import not_simulated_warning

    if names:
        click.echo(not_simulated_warning(source, names), err=True)


def dry_run_text(request: dict[str, Any]) -> str:
    """The resolved request as JSON, secret-looking values masked as in the logs (an Environment's DB_PASSWORD, a
    hyperparameter api_key, `TOKEN=...` in an argument)."""
    from smtoolkit.logs import mask_text, masked

    return mask_text(json.dumps(masked(request), indent=2))


def _summary(report: JobReport, work_dir: Path) -> str:
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


def _settings(
    work_dir: Path | None, name: str, grace_period: float, image: str | None = None, hostnames: str = "auto"
) -> LocalRunSettings:
    import os

    from smtoolkit.local.hostnames import HostnameMode
    from smtoolkit.local.job import LocalRunSettings  # noqa: F811 - lazily

    mode = cast(HostnameMode, hostnames)  # click.Choice checked it
    return LocalRunSettings(work_dir or DEFAULT_WORK_ROOT / name, os.environ, grace_period, image=image, hostnames=mode)


_common_options = [
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
        type=click.Choice(["auto", "on", "off"]),  # smtoolkit.local.hostnames.HostnameMode
        default="auto",
        show_default=True,
        help="Run each host under its own hostname with algo-N resolvable (Linux namespaces): auto where "
        "possible, on (or fail), off.",
    ),
    click.option("--dry-run", is_flag=True, help="Print the resolved request as JSON and exit."),
]


@dataclass(frozen=True)
class CommonOptions:
    """The values of `_common_options`, handed to a command as `common`."""

    work_dir: Path | None
    job_name: str | None
    instance_count: int | None
    environment: Sequence[str]
    max_run: int | None
    grace_period: float
    hostnames: str
    dry_run: bool


def _with_common_options(function: Callable[..., None]) -> Callable[..., None]:
    """Add `_common_options` to a command; its function gets their values as one `common` argument."""

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

    for option in reversed(_common_options):
        command = option(command)
    return command


def _run_job(
    validated: tuple[SpecT, list[str]],
    name: str,
    source: str,
    common: CommonOptions,
    run: Callable[[SpecT, LocalRunSettings], JobReport],
    image: str | None = None,
) -> None:
    """Warn about what is not simulated, then print the job (--dry-run) or run it, print its summary and exit
    with its exit code."""
    job, not_simulated = validated
    warn_not_simulated(not_simulated, source)
    if common.dry_run:
        click.echo(dry_run_text(job.model_dump(by_alias=True, exclude_none=True)))
        return
    settings = _settings(common.work_dir, name, common.grace_period, image, common.hostnames)
    report = run(job, settings)
    click.echo(_summary(report, settings.work_dir.resolve()))
    sys.exit(report.exit_code)


@local.command("train")
@click.argument("spec", required=False, type=click.Path(dir_okay=False, exists=True, path_type=Path))
@_with_common_options
@click.option(
    "-H",
    "--hyperparameter",
    "hyperparameters",
    multiple=True,
    metavar="KEY=VALUE",
    help="A hyperparameter; VALUE is JSON-encoded as the SDK does.",
)
@click.option(
    "--channel",
    "channels",
    multiple=True,
    metavar="NAME=URI[,mode=..][,distribution=..]",
    help="An input channel: a local path or s3:// prefix, with options "
    "mode, distribution, content-type, record-wrapper, compression, shuffle-seed.",
)
@click.option("--input-mode", type=click.Choice(["File", "Pipe", "FastFile"]), help="The job's TrainingInputMode.")
@click.option("--entry-point", help="The script to run (sagemaker_program).")
@click.option("--source-dir", help="The code: a directory, tarball or s3:// URI (sagemaker_submit_directory).")
@click.option("--checkpoint-uri", help="CheckpointConfig.S3Uri: a local dir or s3:// prefix.")
@click.option("--output-path", help="Where model.tar.gz and output.tar.gz go [<work dir>/output].")
@click.option("--metric", "metrics", multiple=True, metavar="NAME=REGEX", help="A metric definition.")
@click.option(
    "--image",
    help="Run each host's container side in this image (`docker run IMAGE train`, ENTRYPOINT smtoolkit) "
    "instead of in-process; needs a reachable Docker engine (DOCKER_HOST).",
)
def train_command(spec: Path | None, common: CommonOptions, image: str | None, **flags: Any) -> None:
    """Run a training job: SPEC is a CreateTrainingJob request (JSON, or YAML with PyYAML), flags win over it."""
    from smtoolkit.errors import SmtoolkitError, exit_on
    from smtoolkit.local.flags import TrainingFlags, apply_training_flags
    from smtoolkit.local.spec import TrainingJobSpec
    from smtoolkit.local.specfile import read_spec_file, resolve_training_paths, validated
    from smtoolkit.local.training import run_local_training

    try:
        raw = resolve_training_paths(read_spec_file(spec), spec.parent) if spec else {}
        options = TrainingFlags(
            job_name=common.job_name,
            instance_count=common.instance_count,
            environment=common.environment,
            max_run=common.max_run,
            **flags,
        )
        source = str(spec or "the command line")
        job = validated(TrainingJobSpec, apply_training_flags(raw, options), source)
        _run_job(job, job[0].training_job_name, source, common, run_local_training, image)
    except SmtoolkitError as error:
        exit_on(error)


@local.command("process")
@click.argument("spec", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@_with_common_options
def process_command(spec: Path, common: CommonOptions) -> None:
    """Run a processing job: SPEC is a CreateProcessingJob request (JSON, or YAML with PyYAML); the
    ContainerEntrypoint + ContainerArguments run under `smtoolkit process` on each host."""
    from smtoolkit.errors import SmtoolkitError, exit_on
    from smtoolkit.local.flags import unique_pairs
    from smtoolkit.local.processing import run_local_processing
    from smtoolkit.local.procspec import ProcessingJobSpec
    from smtoolkit.local.specfile import read_spec_file, resolve_processing_paths, validated

    try:
        raw = resolve_processing_paths(read_spec_file(spec), spec.parent)
        if common.job_name:
            raw["ProcessingJobName"] = common.job_name
        if common.instance_count is not None:
            cluster = raw.setdefault("ProcessingResources", {}).setdefault("ClusterConfig", {})
            cluster["InstanceCount"] = common.instance_count
        for key, value in unique_pairs(common.environment, "--env").items():
            raw.setdefault("Environment", {})[key] = value
        if common.max_run is not None:
            raw.setdefault("StoppingCondition", {})["MaxRuntimeInSeconds"] = common.max_run
        job = validated(ProcessingJobSpec, raw, str(spec))
        _run_job(job, job[0].processing_job_name, str(spec), common, run_local_processing)
    except SmtoolkitError as error:
        exit_on(error)


def _register_transform() -> None:
    from smtoolkit.local.transformcli import transform_command  # click and the standard library only

    local.add_command(transform_command)


_register_transform()
