"""The composition root: the console scripts (`smtoolkit`, `train`, `serve`) and `python -m smtoolkit`.

Logging is configured here, once per process, and every command ends here: its exit code, or on an error the
code, `error:` lines and failure file of the one table in smtoolkit.errors (`run_command`).

The container's `train` (`smtoolkit train` under `ENTRYPOINT ["smtoolkit"]`) starts every training job, so it
runs without click and without registering the other commands (~10 ms of each job's start). It takes what the
click command takes: `--dry-run`; an unknown option is a usage error, other arguments are ignored with a
warning. `serve` likewise runs without click: `--dry-run`, anything else refused naming the closest option.
Everything else, and any help request, goes through the click CLI (smtoolkit.cli).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

HELP_FLAGS = frozenset({"-h", "--help"})
DRY_RUN_FLAG = "--dry-run"
TRAIN_OPTIONS = (DRY_RUN_FLAG, "--help")

logger = logging.getLogger("smtoolkit")


def run_command(body: Callable[[], int], failure_file: Path | None = None, max_bytes: int | None = None) -> NoReturn:
    """Run a command's body and end the process with its exit code; on an error, end as the table in
    smtoolkit.errors says (an error that is not ours is a defect: its traceback is logged)."""
    from smtoolkit.errors import EntryPointError, SmtoolkitError, UserScriptError, exit_on, users_part

    try:
        code = body()
    except (Exception, KeyboardInterrupt) as error:
        if not isinstance(error, SmtoolkitError | KeyboardInterrupt):
            logger.error("internal error (please report it)", exc_info=error)
        elif isinstance(error, UserScriptError | EntryPointError) and error.__cause__ is not None:
            # the user's code raised (a model_fn, an import): its own traceback says where, once, without the
            # chain through our loader and gunicorn's arbiter that raised the error wrapping it
            logger.error("%s", error, exc_info=users_part(error.__cause__))
        exit_on(error, failure_file, max_bytes)
    sys.exit(code)


def train_dry_run(args: list[str]) -> bool:
    """Whether `train ARGS` asks for a dry run; an unknown option is a ConfigError naming the closest one."""
    from smtoolkit.errors import ConfigError, did_you_mean

    unknown = [arg for arg in args if arg.startswith("-") and arg not in TRAIN_OPTIONS]
    if unknown:
        hint = did_you_mean(unknown[0].split("=", 1)[0], TRAIN_OPTIONS)
        raise ConfigError.single(
            "train", f"no such option: {' '.join(unknown)}{hint}; valid: {', '.join(TRAIN_OPTIONS)}"
        )
    if ignored := [arg for arg in args if not arg.startswith("-")]:
        logger.warning("train: ignoring the arguments %s", " ".join(ignored))
    return DRY_RUN_FLAG in args


def train(args: list[str]) -> NoReturn:
    """`smtoolkit train [--dry-run]`. A real run's errors go to output/failure; a dry run writes nothing."""
    from smtoolkit.errors import exit_on

    try:
        dry_run = train_dry_run(args)
    except Exception as error:  # a usage error: no job ran, so no failure file
        exit_on(error)
    from smtoolkit.paths import JobPaths

    run_command(lambda: _train(dry_run), None if dry_run else JobPaths.from_env().failure_file)


def _train(dry_run: bool) -> int:
    from smtoolkit.config.launcher import LauncherSettings
    from smtoolkit.launch.execute import clear_outcome
    from smtoolkit.launch.jobs import run_training
    from smtoolkit.paths import JobPaths

    if not dry_run:  # first of all: an error in the settings must not leave an earlier run's failure in place
        clear_outcome(JobPaths.from_env())
    return run_training(LauncherSettings.from_environ(), dry_run=dry_run)


def serve(args: list[str]) -> NoReturn:
    """`smtoolkit serve [--dry-run]` without click, as `train`: an unknown option is a ConfigError naming the
    closest one (exit 2)."""
    from smtoolkit.serve.execute import main as serve_command

    run_command(lambda: serve_command(args))


def _click(name: str | None, args: list[str], prog_name: str | None = None) -> NoReturn:
    """The click CLI (or one of its commands, as its own program); click ends the process itself."""
    from smtoolkit.cli import root

    cli = root()
    command = cli if name is None else cli.commands[name]
    prog_name = prog_name or name or "smtoolkit"
    run_command(lambda: int(command.main(args, prog_name=prog_name, standalone_mode=True) or 0))


def main() -> None:
    from smtoolkit.logs import configure_logging

    configure_logging("INFO")
    args = sys.argv[1:]
    if args[:1] == ["train"] and HELP_FLAGS.isdisjoint(args):
        train(args[1:])
    if args[:1] == ["serve"] and HELP_FLAGS.isdisjoint(args):
        serve(args[1:])
    _click(None, args)


def train_main() -> None:
    """The `train` console script: `smtoolkit train`."""
    _script("train")


def serve_main() -> None:
    """The `serve` console script: `smtoolkit serve` (a leading `serve`, as the platform appends it, is dropped)."""
    _script("serve")


def local_main() -> None:
    """`python -m smtoolkit.local`: `smtoolkit local`."""
    from smtoolkit.logs import configure_logging

    configure_logging("INFO")
    _click("local", sys.argv[1:], "smtoolkit local")


def _script(name: str) -> None:
    from smtoolkit.logs import configure_logging

    configure_logging("INFO")
    args = sys.argv[1:]
    if args[:1] == [name]:
        args = args[1:]
    if name == "train" and HELP_FLAGS.isdisjoint(args):
        train(args)
    if name == "serve" and HELP_FLAGS.isdisjoint(args):
        serve(args)
    _click(name, args)
