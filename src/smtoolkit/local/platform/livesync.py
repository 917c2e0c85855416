"""The platform's side of what a training job's hosts write while they run: each host's checkpoint dir is
mirrored to CheckpointConfig.S3Uri (deletions too, as the platform does; every host to the same prefix), and
its intermediate output dir to `<output path>/<job name>/output/intermediate/`. Both get a final pass when the
job ends, however it ends (success, failure, a stop), so a second run resumes from the last checkpoint.

Each host also gets SAGEMAKER_METRICS_DIRECTORY, whose metric files are read after the job.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from smtoolkit.dirsync.destination import destination_for
from smtoolkit.dirsync.intermediate import intermediate_prefix
from smtoolkit.dirsync.uploader import FolderUploader
from smtoolkit.local.platform.metrics import MetricCollector
from smtoolkit.local.platform.tree import in_tree
from smtoolkit.local.spec.training import TrainingJobSpec
from smtoolkit.metricsfile import DIRECTORY_VARIABLE, read_metric_files
from smtoolkit.paths import JobPaths

# Where the platform points SAGEMAKER_METRICS_DIRECTORY, relative to the job tree (/opt/ml).
METRICS_SUBDIR = "output/metrics/sagemaker"
CONTAINER_METRICS_ENV = {DIRECTORY_VARIABLE: f"/opt/ml/{METRICS_SUBDIR}"}


def metrics_dir(paths: JobPaths) -> Path:
    return paths.base / METRICS_SUBDIR


def metrics_variable(paths: JobPaths) -> dict[str, str]:
    return {DIRECTORY_VARIABLE: str(metrics_dir(paths))}


def collect_metric_files(trees: Sequence[JobPaths], metrics: MetricCollector) -> None:
    points = [point for paths in trees for point in read_metric_files(metrics_dir(paths))]
    for point in sorted(points, key=lambda item: item.timestamp):  # so that the last value is the latest
        metrics.add(point.name, point.value, point.timestamp)


def start_mirrors(
    spec: TrainingJobSpec, trees: Sequence[JobPaths], output_path: str, environ: Mapping[str, str]
) -> list[FolderUploader]:
    """Start mirroring every host's checkpoint and intermediate output dirs (each created if needed, so that
    the host's launcher leaves the intermediate one to us)."""
    mirrors: list[FolderUploader] = []
    try:
        for paths in trees:
            if spec.checkpoint_config is not None:
                uri = spec.checkpoint_config.s3_uri
                local = in_tree(spec.checkpoint_config.local_path, paths)
                mirror = FolderUploader(local, destination_for(uri, environ), what="checkpoints", mirror_deletes=True)
                mirrors.append(mirror.start())
            uri = intermediate_prefix(output_path, spec.training_job_name)
            mirror = FolderUploader(paths.output_intermediate_dir, destination_for(uri, environ), what="intermediate")
            mirrors.append(mirror.start())
    except BaseException:
        stop_mirrors(mirrors)
        raise
    return mirrors


def stop_mirrors(mirrors: Sequence[FolderUploader]) -> list[str]:
    """The final pass of every mirror; one line for each mirror left with files not uploaded (what, how many,
    where they were to go, why, and where they are kept)."""
    for mirror in mirrors:
        mirror.stop()
    return [problem for mirror in mirrors if (problem := mirror.unsent_problem())]
