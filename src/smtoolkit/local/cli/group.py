"""The `smtoolkit local` group: its commands are added here, and only here.

Top-level imports stay light (click and the command modules, which import what they run when run).
"""

from __future__ import annotations

import click

from smtoolkit.local.cli.mme import local_mme_command
from smtoolkit.local.cli.process import local_process_command
from smtoolkit.local.cli.train import local_train_command
from smtoolkit.local.cli.transform import local_transform_command


def local_group() -> click.Group:
    """`smtoolkit local` with its commands `train`, `process`, `transform` and `mme`."""

    @click.group("local", context_settings={"help_option_names": ["-h", "--help"]})
    def local() -> None:
        """Run a whole job on this machine (no cloud, no Docker): the platform's side simulated, the container's
        side run by the toolkit itself."""

    for command in (local_train_command, local_process_command, local_transform_command, local_mme_command):
        local.add_command(command)
    return local
