"""Intermediate output for the `train` launcher: with the `sagemaker_s3_output` hyperparameter (set by the
SageMaker Python SDK), files written under SM_OUTPUT_INTERMEDIATE_DIR go, while the job runs, to
`<sagemaker_s3_output>/<job name>/output/intermediate/<relative path>`, as with the AWS training toolkit.

The same conditions as that toolkit: a `file://` output means SDK local mode, which mounts the folder itself;
a folder that already exists when the launcher starts is being mirrored by whoever made it (the platform, or
`smtoolkit local`). Unlike it: files renamed or moved into the folder count, a file is uploaded again when it
changes, uploads never go through a temporary copy, and files written before a late watch are not lost.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from smtoolkit.config.training import TrainingEnv
from smtoolkit.dirsync.destination import destination_for
from smtoolkit.dirsync.uploader import FolderUploader
from smtoolkit.errors import ConfigError
from smtoolkit.storage import FILE_SCHEME, is_s3_uri

log = logging.getLogger(__name__)

S3_OUTPUT_HYPERPARAMETER = "sagemaker_s3_output"
WHAT = "intermediate output"


def intermediate_prefix(output: str, job_name: str) -> str:
    return f"{output.rstrip('/')}/{job_name}/output/intermediate"


def intermediate_destination(env: TrainingEnv) -> str | None:
    """Where this job's intermediate output goes, or None when the launcher is not the one to upload it."""
    output = env.reserved_hyperparameters.get(S3_OUTPUT_HYPERPARAMETER)
    if output in (None, ""):
        return None
    source = f"hyperparameters.json: {S3_OUTPUT_HYPERPARAMETER}"
    if not isinstance(output, str) or not (is_s3_uri(output) or output.lower().startswith(FILE_SCHEME)):
        raise ConfigError.single(source, f"{output!r}: expected an s3://bucket/prefix or file:// URI")
    if not is_s3_uri(output):
        return None
    if env.output_intermediate_dir.exists():
        log.info("%s exists before the job starts: its owner uploads it", env.output_intermediate_dir)
        return None
    if not env.job_name:
        raise ConfigError.single(source, "set, but the job has no name (TRAINING_JOB_NAME) to put in the S3 key")
    return intermediate_prefix(output, env.job_name)


def start_intermediate_upload(env: TrainingEnv, environ: Mapping[str, str]) -> FolderUploader | None:
    """Start mirroring SM_OUTPUT_INTERMEDIATE_DIR when the job asks for it; `stop()` it after the job."""
    uri = intermediate_destination(env)
    if uri is None:
        return None
    return FolderUploader(env.output_intermediate_dir, destination_for(uri, environ), what=WHAT).start()
