"""What a training job leaves behind, packed and put at the output path, whether the job succeeded or not.

`<output path>/<job name>/output/model.tar.gz` holds every host's `model/`, and `output.tar.gz` every host's
`output/data/`, merged: on a name clash the lower-numbered host's file is kept (the platform only says clashing
names overwrite each other). When they cannot be put there (an S3 upload fails), they are kept in the work dir
and the job fails saying where. Symbolic links are stored as links, never followed. Checkpoints are copied from the
checkpoint location into each host's checkpoint dir before the job (smtoolkit.local.platform.livesync mirrors them
back).
"""

from __future__ import annotations

import logging
import shutil
import tarfile
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from smtoolkit.errors import SmtoolkitError
from smtoolkit.local.platform.store import ObjectStore
from smtoolkit.storage import join_uri

log = logging.getLogger(__name__)

MODEL_ARCHIVE = "model.tar.gz"
OUTPUT_ARCHIVE = "output.tar.gz"


@dataclass(frozen=True)
class Artifacts:
    model: str
    output: str
    error: str | None = None  # why they could not be put at the output path
    kept: Path | None = None  # then: where the packed archives are kept


def artifact_prefix(output_path: str, job_name: str) -> str:
    return join_uri(output_path, f"{job_name}/output")


def merged_members(roots: Sequence[Path]) -> dict[str, Path]:
    """Relative name -> file, over every root; the first root that has a name wins."""
    members: dict[str, Path] = {}
    for root in roots:
        if not root.is_dir():
            continue
        for path in sorted(root.rglob("*")):
            if path.is_dir() and not path.is_symlink():
                continue
            members.setdefault(path.relative_to(root).as_posix(), path)
    return members


def write_archive(target: Path, roots: Sequence[Path]) -> int:
    """A gzip tarball of the merged roots (sorted names, no leading `./`); returns the number of members."""
    members = merged_members(roots)
    with tarfile.open(target, "w:gz") as archive:
        for name, path in sorted(members.items()):
            archive.add(path, arcname=name, recursive=False)
    return len(members)


def pack_training_artifacts(
    store: ObjectStore,
    model_dirs: Sequence[Path],
    data_dirs: Sequence[Path],
    output_path: str,
    job_name: str,
    keep_dir: Path,
) -> Artifacts:
    """model.tar.gz and output.tar.gz at `<output path>/<job name>/output/` (a local dir or s3:// prefix). When
    one cannot be put there, both archives are moved to `keep_dir` and the result says why and where."""
    prefix = artifact_prefix(output_path, job_name)
    destinations = Artifacts(join_uri(prefix, MODEL_ARCHIVE), join_uri(prefix, OUTPUT_ARCHIVE))
    errors = []
    with tempfile.TemporaryDirectory(prefix="smtoolkit-artifacts-") as scratch:
        archives = []
        for roots, uri in ((model_dirs, destinations.model), (data_dirs, destinations.output)):
            archive = Path(scratch) / Path(uri).name
            count = write_archive(archive, roots)
            archives.append(archive)
            try:
                store.put(archive, uri)
            except SmtoolkitError as exc:  # named by where the archive will be kept, not by the scratch copy
                errors.append(str(exc).replace(str(archive), str(keep_dir / archive.name)))
                continue
            log.info("packed %d files into %s", count, uri)
        if not errors:
            return destinations
        keep_dir.mkdir(parents=True, exist_ok=True)
        for archive in archives:
            shutil.move(archive, keep_dir / archive.name)
    log.error("%s; the packed artifacts are kept in %s", "; ".join(errors), keep_dir)
    return Artifacts(destinations.model, destinations.output, "; ".join(errors), keep_dir)


def restore_checkpoints(store: ObjectStore, uri: str, targets: Sequence[Path]) -> int:
    """The objects already at the checkpoint location, copied into each host's checkpoint dir."""
    from smtoolkit.errors import ConfigError

    try:
        objects = store.list_objects(uri)
    except ConfigError:  # a local checkpoint dir that does not exist yet: nothing to restore
        return 0
    for target in targets:
        for item in objects:
            store.fetch(item, target / item.key)
    return len(objects)
