"""The composition root: parse the command line, build settings once, configure logging, dispatch.

`smtoolkit <command>`; `train` and `serve` console scripts are the same as `smtoolkit train|serve`, so an
image with `ENTRYPOINT ["smtoolkit"]` works when the platform appends `train` or `serve`. The console scripts
enter through smtoolkit.entry, which starts `train` without this module.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from smtoolkit import __version__
from smtoolkit.errors import SmtoolkitError, exit_on

if TYPE_CHECKING:
    from smtoolkit.config.training import TrainingEnv


def _load_env(base_dir: Path | None) -> TrainingEnv:
    from smtoolkit.config.training import TrainingEnv  # noqa: F811 - lazily, only for commands that need it

    return TrainingEnv.load(base_dir=base_dir.resolve()) if base_dir else TrainingEnv.load()


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
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
    from smtoolkit.config import report

    try:
        env = _load_env(base_dir)
        text = report.as_json(env) if as_json else report.as_exports(env) if as_export else report.as_table(env)
    except SmtoolkitError as error:
        exit_on(error)
    click.echo(text, nl=not text.endswith("\n"))


@cli.command("train", context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.option("--dry-run", is_flag=True, help="Print the plan (argv, environment additions, cwd) and exit.")
def train_command(dry_run: bool) -> None:
    """Run the job's training code as the platform expects (the container's `train`)."""
    from smtoolkit.entry import DRY_RUN_FLAG, train

    train([DRY_RUN_FLAG] if dry_run else [])


@cli.command("process", context_settings={"ignore_unknown_options": True})
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
def process_command(command: tuple[str, ...]) -> None:
    """Run a processing container's command (`smtoolkit process -- CMD ARGS...`) with signal forwarding;
    on failure write output/message."""
    from smtoolkit.entry import launcher_settings
    from smtoolkit.launch.jobs import run_processing

    sys.exit(run_processing(list(command), launcher_settings()))


@cli.command("serve", context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
def serve_command() -> None:
    """Serve the model on SageMaker's HTTP contract (the container's `serve`)."""
    from smtoolkit.serve.server import main as serve

    sys.exit(serve([]))


def _register_subcommands() -> None:
    # Command modules import only click and the standard library at the top: registering them is cheap.
    from smtoolkit.local.command import local
    from smtoolkit.transform.command import transform_command

    cli.add_command(local)
    cli.add_command(transform_command)


_register_subcommands()
