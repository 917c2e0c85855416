"""The click CLI: `smtoolkit <command>`, parsed here and dispatched; settings are built once per command.

`train` and `serve` console scripts are `smtoolkit train|serve`, so an image with `ENTRYPOINT ["smtoolkit"]`
works when the platform appends `train` or `serve`. Every process enters through smtoolkit.entry (logging
configured once, one way to end), which also starts `train` without this module.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import click

from smtoolkit import __version__

if TYPE_CHECKING:
    from smtoolkit.config.training import TrainingEnv

BASE_DIR_VARIABLE = "SAGEMAKER_BASE_DIR"


class Commands(click.Group):
    """A group whose command list shows each command's first sentence whole (click cuts it at the width)."""

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [
            (name, command.get_short_help_str(limit=1000))
            for name, command in sorted(self.commands.items())
            if not command.hidden
        ]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


def _load_env(base_dir: Path | None) -> TrainingEnv:
    from smtoolkit.config.training import TrainingEnv  # noqa: F811 - lazily, only for commands that need it
    from smtoolkit.errors import ConfigError

    named, source = (base_dir, "--base-dir") if base_dir else (os.environ.get(BASE_DIR_VARIABLE), BASE_DIR_VARIABLE)
    if named and not Path(named).is_dir():
        raise ConfigError.single(source, f"{named}: no such directory (expected a job tree such as /opt/ml)")
    return TrainingEnv.load(base_dir=base_dir.resolve()) if base_dir else TrainingEnv.load()


@click.group(cls=Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="smtoolkit")
def cli() -> None:
    """Run code on SageMaker's container contract, and whole jobs locally."""


@cli.command("env")
@click.option("--json", "as_json", is_flag=True, help="Print the typed model as JSON.")
@click.option("--export", "as_export", is_flag=True, help="Print `export SM_...=...` lines for a shell.")
@click.option(
    "--base-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="The job tree (default: $SAGEMAKER_BASE_DIR, else /opt/ml).",
)
def env_command(as_json: bool, as_export: bool, base_dir: Path | None) -> None:
    """Show the job as the toolkit resolves it."""
    import os

    from smtoolkit.config import report
    from smtoolkit.config.launcher import check_names

    if as_json and as_export:
        raise click.UsageError("--json and --export print different formats: give one of them")
    check_names(os.environ)  # a misspelt SMTOOLKIT_* setting is named here too, as every command does
    env = _load_env(base_dir)
    text = report.as_json(env) if as_json else report.as_exports(env) if as_export else report.as_table(env)
    click.echo(text, nl=not text.endswith("\n"))


@cli.command("train", context_settings={"allow_extra_args": True})
@click.option("--dry-run", is_flag=True, help="Print the plan (code, install steps, argv, environment) and exit.")
def train_command(dry_run: bool) -> None:
    """Run the job's training code as the platform expects (the container's `train`)."""
    from smtoolkit.entry import DRY_RUN_FLAG, train

    train([DRY_RUN_FLAG] if dry_run else [])


@cli.command("process", context_settings={"ignore_unknown_options": True})
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
def process_command(command: tuple[str, ...]) -> None:
    """Run a processing container's command with signal forwarding (`smtoolkit process -- CMD ARGS...`).

    On failure, write output/message."""
    from smtoolkit.config.launcher import LauncherSettings
    from smtoolkit.entry import run_command
    from smtoolkit.launch.jobs import MESSAGE_BYTES, run_processing
    from smtoolkit.paths import JobPaths

    message_file = JobPaths.from_env().message_file
    run_command(lambda: run_processing(list(command), LauncherSettings.from_environ()), message_file, MESSAGE_BYTES)


@cli.command("serve")
@click.option("--dry-run", is_flag=True, help="Print the plan (protocols, port, code, install steps) and exit.")
def serve_command(dry_run: bool) -> None:
    """Serve the model on SageMaker's HTTP contract (the container's `serve`), and on Vertex AI's and the Open
    Inference Protocol's when chosen, all on one port with the same inference.py.

    \b
    SageMaker (always):
      GET /ping, POST /invocations, GET /execution-parameters
      input_fn(body, content_type) gets the body; output_fn(prediction, accept) makes the answer.
    \b
    Vertex AI (AIP_MODE=PREDICTION, or SMTOOLKIT_SERVE_PROTOCOLS=vertex), on AIP_HTTP_PORT:
      GET $AIP_HEALTH_ROUTE (200 once loaded), POST $AIP_PREDICT_ROUTE {"instances", "parameters"}
      input_fn gets the instances list as JSON text (application/json), context.parameters the
      parameters; output_fn's JSON list becomes {"predictions": [...]}. Model from AIP_STORAGE_URI.
    \b
    Open Inference Protocol (SMTOOLKIT_SERVE_PROTOCOLS=oip; NAME: SMTOOLKIT_OIP_MODEL_NAME, default model):
      GET /v2, /v2/health/live, /v2/health/ready, /v2/models/NAME[/versions/V][/ready]
      POST /v2/models/NAME[/versions/V]/infer (JSON or binary tensors)
      predict_fn(data, model) gets the decoded tensor (a dict name -> array for several inputs);
      input_fn and output_fn are not called; its array (or dict of them) becomes the outputs.
    \b
    Multi-model endpoint (SAGEMAKER_MULTI_MODEL=true), in place of the single-model routes:
      POST /models {"model_name", "url"}, GET /models, GET|DELETE /models/NAME, POST /models/NAME/invoke
      (or /invocations with X-Amzn-SageMaker-Target-Model); a model's own code/inference.py serves it.
      With oip, /v2/models/NAME answers every loaded model by its name, and POST /v2/repository/index,
      /v2/repository/models/NAME/load {"parameters": {"url": PATH}}, .../unload load and unload.
    \b
    Batching: define batch_predict_fn(batch, model) instead of predict_fn (SAGEMAKER_MAX_BATCH_SIZE,
    SAGEMAKER_MAX_BATCH_WAIT_MS).

    Settings are environment variables: see the README's "The inference server" section.
    """
    from smtoolkit.entry import run_command
    from smtoolkit.serve.execute import DRY_RUN_FLAG
    from smtoolkit.serve.execute import main as serve

    run_command(lambda: serve([DRY_RUN_FLAG] if dry_run else []))


def root() -> click.Group:
    """The whole CLI: this module's commands plus `local` and `transform`, added here rather than on import (their
    modules import only click and the standard library at the top, so adding them is cheap)."""
    from smtoolkit.local.cli.group import local_group
    from smtoolkit.transform.command import transform_command

    if "local" not in cli.commands:
        cli.add_command(local_group())
        cli.add_command(transform_command)
    return cli
