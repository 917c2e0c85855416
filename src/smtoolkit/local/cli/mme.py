"""`smtoolkit local mme`: try a multi-model endpoint before deploying it.

Top-level imports stay light (click and the standard library); the command imports what it runs.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click


@click.command("mme")
@click.argument("models", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option("--port", type=click.IntRange(1, 65535), default=8080, show_default=True, help="The front's port.")
@click.option("--address", default="127.0.0.1", show_default=True, help="The front's address.")
@click.option(
    "--code", type=click.Path(exists=True, path_type=Path), help="The endpoint's inference code (a folder or tarball)."
)
@click.option(
    "--work-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where models are unpacked (default: a new one).",
)
def local_mme_command(models: Path, port: int, address: str, code: Path | None, work_dir: Path | None) -> None:
    """Serve MODELS (a folder of NAME.tar.gz files) as a multi-model endpoint: POST /models/NAME/invoke (or
    /invocations with X-Amzn-SageMaker-Target-Model) loads NAME on its first call, unloading the least recently
    used model when the server answers 507, as the platform does. SAGEMAKER_* variables reach `serve`."""
    from smtoolkit.errors import SmtoolkitError, exit_on
    from smtoolkit.local.platform.mmelocal import run_local_mme

    try:
        status = run_local_mme(models, address, port, code, work_dir)
    except SmtoolkitError as error:
        exit_on(error)
    sys.exit(status)
