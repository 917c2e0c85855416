"""Processing outputs: each host's output directory put at the output's S3Uri (a local dir or s3:// prefix).

EndOfJob: once, after the job (also after a failure, so that partial results can be inspected). Continuous (the
platform's trigger is undocumented): each file once it is closed after writing or moved in, while the job runs
(dirsync.FolderUploader, the mirror checkpoints use), then a final pass after the job. Symbolic links are not
followed. Several hosts put their files under the same prefix, so equal names overwrite each other.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from smtoolkit.dirsync.destination import destination_for
from smtoolkit.dirsync.uploader import FolderUploader
from smtoolkit.local.platform.store import ObjectStore
from smtoolkit.storage import join_uri


def put_folder(store: ObjectStore, local_dir: Path, uri: str) -> int:
    """Put every regular file under `local_dir` at `uri`; returns how many. StorageError on the first failure."""
    count = 0
    for path in sorted(local_dir.rglob("*")) if local_dir.is_dir() else []:
        if path.is_symlink() or not path.is_file():
            continue
        store.put(path, join_uri(uri, path.relative_to(local_dir).as_posix()))
        count += 1
    return count


def continuous_upload(name: str, local_dir: Path, uri: str, environ: Mapping[str, str]) -> FolderUploader:
    """A started mirror of one host's Continuous output; `stop()` makes the final pass, `unsent` what failed."""
    return FolderUploader(local_dir, destination_for(uri, environ), what=f"output {name}").start()
