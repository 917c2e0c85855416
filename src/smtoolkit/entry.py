"""The console scripts (`smtoolkit`, `train`, `serve`) and `python -m smtoolkit`.

The container's `train` (`smtoolkit train` under `ENTRYPOINT ["smtoolkit"]`) starts every training job, so it
runs without click and without registering the other commands (~10 ms of each job's start). It takes what
the click command takes: `--dry-run`, and any other argument the platform appends is ignored. Everything else,
and any help request, goes through the click CLI (smtoolkit.cli).
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, NoReturn

if TYPE_CHECKING:
    from smtoolkit.config.launcher import LauncherSettings

HELP_FLAGS = frozenset({"-h", "--help"})
DRY_RUN_FLAG = "--dry-run"


def launcher_settings() -> LauncherSettings:
    """Logging configured and the SMTOOLKIT_* settings read, for the commands that launch processes."""
    from smtoolkit.config.launcher import LauncherSettings
    from smtoolkit.errors import ConfigError, exit_on
    from smtoolkit.logs import configure_logging

    configure_logging("INFO")
    try:
        return LauncherSettings.from_environ()
    except ConfigError as error:
        exit_on(error)


def train(args: list[str]) -> NoReturn:
    """`smtoolkit train [--dry-run] [ignored...]`."""
    from smtoolkit.launch.jobs import run_training

    sys.exit(run_training(launcher_settings(), dry_run=DRY_RUN_FLAG in args))


def main() -> None:
    args = sys.argv[1:]
    if args[:1] == ["train"] and HELP_FLAGS.isdisjoint(args):
        train(args[1:])
    from smtoolkit.cli import cli

    cli()


def train_main() -> None:
    """The `train` console script: `train` is `smtoolkit train`, whatever arguments the platform appends."""
    sys.argv[1:1] = ["train"]
    main()


def serve_main() -> None:
    """The `serve` console script: `serve` is `smtoolkit serve`."""
    sys.argv[1:1] = ["serve"]
    main()
