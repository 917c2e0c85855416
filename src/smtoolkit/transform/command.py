"""`smtoolkit transform`: a batch transform job on this machine, as SageMaker runs one around a container.

Only click and the standard library are imported at module level; the engine is imported when it runs.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

CHOICES_SPLIT = click.Choice(["None", "Line", "RecordIO", "TFRecord"])


def _flags_request(options: dict[str, Any]) -> dict[str, Any]:
    """The flags given, in CreateTransformJob's shape (flags not given are left out)."""
    request: dict[str, Any] = {}

    def put(path: str, value: Any) -> None:
        if value is None:
            return
        *parents, leaf = path.split(".")
        node = request
        for parent in parents:
            node = node.setdefault(parent, {})
        node[leaf] = value

    source = "TransformInput.DataSource.S3DataSource."
    put(source + "S3Uri", options["input_uri"])
    put(source + "S3DataType", "ManifestFile" if options["manifest"] else None)
    put("TransformInput.ContentType", options["content_type"])
    put("TransformInput.CompressionType", options["compression"])
    put("TransformInput.SplitType", options["split_type"])
    put("TransformOutput.S3OutputPath", options["output_uri"])
    put("TransformOutput.Accept", options["accept"])
    put("TransformOutput.AssembleWith", options["assemble_with"])
    put("BatchStrategy", options["batch_strategy"])
    put("MaxPayloadInMB", options["max_payload_mb"])
    put("MaxConcurrentTransforms", options["max_concurrent"])
    put("ModelClientConfig.InvocationsTimeoutInSeconds", options["timeout"])
    put("ModelClientConfig.InvocationsMaxRetries", options["max_retries"])
    put("DataProcessing.InputFilter", options["input_filter"])
    put("DataProcessing.JoinSource", options["join_source"])
    put("DataProcessing.OutputFilter", options["output_filter"])
    if options["env"]:
        put("Environment", dict(item.split("=", 1) for item in options["env"]))
    return request


def _env_item(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> tuple[str, ...]:
    for value in values:
        if "=" not in value or not value.split("=", 1)[0]:
            raise click.BadParameter(f"expected KEY=VALUE, got {value!r}")
    return values


# Shared with `smtoolkit local transform`, which takes the same two choices.
slice_end_option = click.option(
    "--slice-end",
    type=click.Choice(["inclusive", "exclusive"]),
    default="inclusive",
    show_default=True,
    envvar="SMTOOLKIT_TRANSFORM_SLICE_END",
    help="JSONPath slice end: as the developer guide documents it (inclusive) or as Python/Jayway (exclusive).",
)
single_record_framing_option = click.option(
    "--single-record-framing",
    type=click.Choice(["framed", "payload"]),
    default="framed",
    show_default=True,
    help="SingleRecord RecordIO/TFRecord bodies: the framed record without padding, or its data only.",
)


@click.command("transform")
@click.option(
    "--request",
    "request_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="A CreateTransformJob-shaped JSON file; flags override its fields.",
)
@click.option("--input", "input_uri", help="Input: a local file or folder, or an s3:// prefix (S3Uri).")
@click.option("--manifest", is_flag=True, help="--input is a manifest file (S3DataType=ManifestFile).")
@click.option("--output", "output_uri", help="Output: a local folder or an s3:// prefix (S3OutputPath).")
@click.option("--content-type", help="ContentType, sent as the request's Content-Type.")
@click.option("--accept", help="Accept, sent as the request's Accept.")
@click.option("--compression", type=click.Choice(["None", "Gzip"]), help="CompressionType of the inputs.")
@click.option("--split-type", type=CHOICES_SPLIT, help="SplitType (default None).")
@click.option("--batch-strategy", help="MultiRecord or SingleRecord (MULTI_RECORD, SINGLE_RECORD too).")
@click.option("--max-payload-mb", type=click.IntRange(0, 100), help="MaxPayloadInMB (MiB); 0 sends chunked.")
@click.option("--max-concurrent", type=click.IntRange(0), help="MaxConcurrentTransforms.")
@click.option("--assemble-with", type=click.Choice(["None", "Line"]), help="AssembleWith (default None).")
@click.option("--timeout", type=click.IntRange(1, 3600), help="InvocationsTimeoutInSeconds (default 600).")
@click.option("--max-retries", type=click.IntRange(0, 3), help="InvocationsMaxRetries (default 3).")
@click.option("--input-filter", help="DataProcessing.InputFilter (JSONPath, default $).")
@click.option("--join-source", type=click.Choice(["None", "Input"]), help="DataProcessing.JoinSource.")
@click.option("--output-filter", help="DataProcessing.OutputFilter (JSONPath, default $).")
@click.option(
    "--env", multiple=True, callback=_env_item, metavar="KEY=VALUE", help="Environment for the server (--serve)."
)
@click.option("--endpoint", help="A running server on the contract, http://HOST:PORT.")
@click.option("--serve", "start_server", is_flag=True, help="Start `serve` on a free loopback port for the job.")
@click.option(
    "--model-dir", type=click.Path(file_okay=False, exists=True, path_type=Path), help="--serve: the model folder."
)
@click.option(
    "--code-dir",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    help="--serve: the inference code folder.",
)
@click.option("--program", help="--serve: the inference script (SAGEMAKER_PROGRAM).")
@click.option("--workers", type=click.IntRange(1), help="--serve: worker processes.")
@click.option("--startup-timeout", type=float, default=600.0, show_default=True, help="Seconds to wait for /ping.")
@slice_end_option
@single_record_framing_option
@click.option("--progress/--no-progress", default=None, help="A progress bar (default: when stderr is a terminal).")
@click.option("--dry-run", is_flag=True, help="Print the resolved settings and exit.")
def transform_command(**options: Any) -> None:
    """Run a batch transform job: split, batch, invoke, assemble `<name>.out` files in input order."""
    from smtoolkit.errors import SmtoolkitError, exit_on
    from smtoolkit.transform.job import TransformOptions, run_job

    try:
        job = TransformOptions.from_cli(options, _flags_request(options))
        code = run_job(job)
    except SmtoolkitError as error:
        exit_on(error)
    sys.exit(code)
