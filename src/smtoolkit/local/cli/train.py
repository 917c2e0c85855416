"""`smtoolkit local train`: a CreateTrainingJob request (and flags laid over it) run on this machine.

Top-level imports stay light (click and the standard library); the command imports what it runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from smtoolkit.local.cli.common import CommonOptions, run_job, with_common_options


@click.command("train")
@click.argument("spec", required=False, type=click.Path(dir_okay=False, exists=True, path_type=Path))
@with_common_options
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
def local_train_command(spec: Path | None, common: CommonOptions, image: str | None, **flags: Any) -> None:
    """Run a training job: SPEC is a CreateTrainingJob request (JSON, or YAML with PyYAML), flags win over it."""
    from smtoolkit.errors import SmtoolkitError, exit_on
    from smtoolkit.local.cli.train_flags import TrainingFlags, apply_training_flags
    from smtoolkit.local.jobs.common import LocalRunSettings
    from smtoolkit.local.jobs.preflight import check_training
    from smtoolkit.local.jobs.training import execute_training
    from smtoolkit.local.jobs.training_plan import plan_training
    from smtoolkit.local.spec.files import read_spec_file, resolve_training_paths, validated
    from smtoolkit.local.spec.training import TrainingJobSpec

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

        def dry_check(spec: TrainingJobSpec, settings: LocalRunSettings) -> None:
            check_training(spec, settings.work_dir.resolve(), settings.environ, dry_run=True)

        run_job(job, job[0].training_job_name, source, common, plan_training, execute_training, dry_check, image)
    except SmtoolkitError as error:
        exit_on(error)
