"""`smtoolkit local process`: a CreateProcessingJob request run on this machine.

Top-level imports stay light (click and the standard library); the command imports what it runs.
"""

from __future__ import annotations

from pathlib import Path

import click

from smtoolkit.local.cli.common import CommonOptions, run_job, with_common_options


@click.command("process")
@click.argument("spec", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@with_common_options
def local_process_command(spec: Path, common: CommonOptions) -> None:
    """Run a processing job: SPEC is a CreateProcessingJob request (JSON, or YAML with PyYAML); the
    ContainerEntrypoint + ContainerArguments run under `smtoolkit process` on each host."""
    from smtoolkit.errors import SmtoolkitError, exit_on
    from smtoolkit.local.cli.pairs import unique_pairs
    from smtoolkit.local.jobs.common import LocalRunSettings
    from smtoolkit.local.jobs.preflight import check_processing
    from smtoolkit.local.jobs.processing import execute_processing
    from smtoolkit.local.jobs.processing_plan import plan_processing
    from smtoolkit.local.spec.files import read_spec_file, resolve_processing_paths, validated
    from smtoolkit.local.spec.processing import ProcessingJobSpec

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

        def dry_check(processing: ProcessingJobSpec, settings: LocalRunSettings) -> None:
            check_processing(processing, settings.work_dir.resolve(), settings.environ, settings.cwd, dry_run=True)

        run_job(job, job[0].processing_job_name, str(spec), common, plan_processing, execute_processing, dry_check)
    except SmtoolkitError as error:
        exit_on(error)
