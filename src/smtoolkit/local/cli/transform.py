"""`smtoolkit local transform`: a CreateTransformJob request (plus the model it names) run on this machine.

Top-level imports stay light (click and the standard library); `local.cli.group` adds this command to the group.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from smtoolkit.transform.command import single_record_framing_option, slice_end_option

if TYPE_CHECKING:
    from smtoolkit.local.jobs.common import JobReport

PREVIEW_BYTES = 64 * 1024


def _preview(uri: str, count: int, environ: Mapping[str, str]) -> list[str]:
    """The first `count` lines of an output file (local or s3://); [] when it is not UTF-8 text."""
    from smtoolkit.storage import is_s3_uri, open_s3_object

    with open_s3_object(uri, environ) if is_s3_uri(uri) else Path(uri).open("rb") as stream:
        head = stream.read(PREVIEW_BYTES)
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return []
    return text.splitlines()[:count]


def transform_summary(report: JobReport, work_dir: Path, preview: int, environ: Mapping[str, str]) -> str:
    described = report.describe()
    lines = [f"{report.kind} {report.name}: {report.status} (exit code {report.exit_code})"]
    summary = described.get("LocalSummary")
    if summary:
        lines.append(summary["Text"])
    if report.failure_reason:
        lines.append("failure reason: " + report.failure_reason.strip().replace("\n", "\n  "))
    outputs = described.get("LocalOutputFiles", [])
    names = ", ".join(Path(item["Output"]).name for item in outputs[:3]) + (", ..." if len(outputs) > 3 else "")
    files = f"{len(outputs)} file{'s' * (len(outputs) != 1)}" + (f": {names}" if outputs else "")
    lines.append(f"predictions:     {described['TransformOutput']['S3OutputPath']}  ({files})")
    source = described.get("LocalModelSource") or "no model data"
    lines.append(f"model:           {described['LocalModelDir']}  (from {source})")
    lines.append(f"job tree:        {work_dir}/algo-1  (server log: {described['LocalServerLog']})")
    lines.append(f"description:     {work_dir / 'job.json'}")
    if preview and outputs:
        first = outputs[0]["Output"]
        head = _preview(first, preview, environ)
        if head:
            lines += [f"first lines of {first}:", *(f"  {line}" for line in head)]
    return "\n".join(lines)


@click.command("transform")
@click.argument("spec", required=False, type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option(
    "--work-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where the job tree goes [./smtoolkit-local/<job>].",
)
@click.option("--job-name", help="TransformJobName (default: from the spec, else generated).")
@click.option("--model-data", help="ModelDataUrl: a model.tar.gz (local or s3://) or a local model directory.")
@click.option("--entry-point", help="The inference script (the model's SAGEMAKER_PROGRAM).")
@click.option("--source-dir", help="The inference code: a dir, tarball or s3:// tarball (SAGEMAKER_SUBMIT_DIRECTORY).")
@click.option("--input", "input_uri", help="TransformInput's S3Uri: a local file or folder, or an s3:// prefix.")
@click.option(
    "--output-path", help="TransformOutput.S3OutputPath: a local folder or s3:// prefix [<work dir>/output/<job>]."
)
@click.option("--content-type", help="TransformInput.ContentType.")
@click.option("--accept", help="TransformOutput.Accept.")
@click.option("--split-type", type=click.Choice(["None", "Line", "RecordIO", "TFRecord"]), help="SplitType.")
@click.option("--compression", type=click.Choice(["None", "Gzip"]), help="TransformInput.CompressionType.")
@click.option("--assemble-with", type=click.Choice(["None", "Line"]), help="TransformOutput.AssembleWith.")
@click.option("--batch-strategy", help="BatchStrategy: MultiRecord or SingleRecord.")
@click.option("--max-payload-mb", type=click.IntRange(0, 100), help="MaxPayloadInMB.")
@click.option("--max-concurrent", type=click.IntRange(0), help="MaxConcurrentTransforms.")
@click.option("--timeout", type=click.IntRange(1, 3600), help="ModelClientConfig.InvocationsTimeoutInSeconds.")
@click.option("--max-retries", type=click.IntRange(0, 3), help="ModelClientConfig.InvocationsMaxRetries.")
@click.option("--input-filter", help="DataProcessing.InputFilter (JSONPath).")
@click.option("--join-source", type=click.Choice(["None", "Input"]), help="DataProcessing.JoinSource.")
@click.option("--output-filter", help="DataProcessing.OutputFilter (JSONPath).")
@click.option("-e", "--env", "environment", multiple=True, metavar="KEY=VALUE", help="Add to the job's Environment.")
@click.option("--workers", type=click.IntRange(1), help="Model server workers [one per CPU].")
@click.option("--startup-timeout", type=click.FloatRange(min=1), default=600.0, show_default=True, help="/ping wait.")
@click.option(
    "--grace-period",
    type=click.FloatRange(min=0),
    default=30.0,
    show_default=True,
    help="Seconds between SIGTERM to the server and SIGKILL.",
)
@slice_end_option
@single_record_framing_option
@click.option("--preview", type=click.IntRange(min=0), default=0, help="Print the first N lines of the first output.")
@click.option("--progress/--no-progress", default=None, help="A progress bar (default: when stderr is a terminal).")
@click.option(
    "--dry-run",
    is_flag=True,
    help="Print the plan (model, code, server, batches, inputs, outputs) as JSON; write and start nothing.",
)
def local_transform_command(
    spec: Path | None,
    work_dir: Path | None,
    job_name: str | None,
    model_data: str | None,
    entry_point: str | None,
    source_dir: str | None,
    environment: Sequence[str],
    workers: int | None,
    startup_timeout: float,
    grace_period: float,
    slice_end: str,
    single_record_framing: str,
    preview: int,
    progress: bool | None,
    dry_run: bool,
    **flags: Any,
) -> None:
    """Run a batch transform job: SPEC is a CreateTransformJob request (JSON, or YAML with PyYAML) with the
    model under "Model" (a CreateModel request); flags win over it."""
    import os

    from smtoolkit.config.files import validate
    from smtoolkit.errors import SmtoolkitError, exit_on
    from smtoolkit.local.cli.common import DEFAULT_WORK_ROOT, run_settings, warn_not_simulated
    from smtoolkit.local.cli.transform_flags import apply_transform_flags
    from smtoolkit.local.jobs.preflight import check_transform
    from smtoolkit.local.jobs.transform import TransformRunOptions, run_local_transform
    from smtoolkit.local.jobs.transform_plan import plan_transform
    from smtoolkit.local.platform.workdir import OUTPUT_DIR
    from smtoolkit.local.spec.files import read_spec_file, validated
    from smtoolkit.local.spec.transform import TransformJobSpec, request_fields, resolve_transform_paths
    from smtoolkit.transform.request import TransformRequest, check_request
    from smtoolkit.transform.settings import LocalOptions

    source = str(spec or "the command line")
    try:
        raw = resolve_transform_paths(read_spec_file(spec), spec.parent) if spec else {}
        raw = apply_transform_flags(
            raw,
            flags,
            job_name=job_name,
            model_data=model_data,
            entry_point=entry_point,
            source_dir=source_dir,
            environment=environment,
        )
        job, not_simulated = validated(TransformJobSpec, raw, source)
        work = (work_dir or DEFAULT_WORK_ROOT / job.transform_job_name).resolve()
        output = raw.setdefault("TransformOutput", {}) if isinstance(raw.get("TransformOutput", {}), dict) else None
        if output is not None and not output.get("S3OutputPath"):
            output["S3OutputPath"] = str(work / OUTPUT_DIR / job.transform_job_name)
        warn_not_simulated(not_simulated, source)  # the request's fields too (TransformJobSpec.API_NESTED)
        request = validate(TransformRequest, request_fields(raw), source)
        check_request(request, source)
        settings = run_settings(work, job.transform_job_name, grace_period)
        local_options = LocalOptions(
            slice_end == "inclusive", "payload" if single_record_framing == "payload" else "framed"
        )
        plan = plan_transform(job, request, settings, workers, local_options)
        if dry_run:
            check_transform(job, request, plan.work_dir, settings.environ, dry_run=True)
            click.echo(plan.text())
            return
        interactive = progress if progress is not None else sys.stderr.isatty()
        options = TransformRunOptions(startup_timeout, interactive, local_options)
        report = run_local_transform(job, request, plan, settings, options)
        text = transform_summary(report, work, preview, os.environ)
    except SmtoolkitError as error:
        exit_on(error)
    click.echo(text)
    sys.exit(report.exit_code)
