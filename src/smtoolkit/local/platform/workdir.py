"""The work dir of a local job: what a run makes there, what a later run removes, and what it must never remove.

A work dir is empty or one a local job made (it holds `.smtoolkit-local`). A run removes only what a run makes
(the host trees `algo-N`, their logs, `job.json`, and the dot dirs below) and says what it removed; everything
else stays, above all `output/`, where each job's outputs go under its own name (`output/<job name>/...`), so
that jobs run in one work dir accumulate and a model trained there can be the input of the next job. A work dir
where an input of the job (a channel, the model data, the code) lies in what a run removes is refused.
"""

from __future__ import annotations

import logging
import re
import shutil
import stat
from collections.abc import Mapping
from pathlib import Path

from smtoolkit.errors import ConfigError, Problem
from smtoolkit.storage import is_s3_uri, local_path

log = logging.getLogger(__name__)

MARKER = ".smtoolkit-local"
OUTPUT_DIR = "output"  # the default output path's root: never removed
# What a run makes: host trees and their logs, the description, and the scratch dirs (Pipe cache, MPI files,
# hosts file, overlay scratch of /opt).
GENERATED = re.compile(r"algo-\d+(\.log)?|job\.json|\.cache|\.mpi|\.hosts|\.opt")


def generated_entries(work_dir: Path) -> list[Path]:
    """What a previous run left in `work_dir` that the next run removes."""
    if not work_dir.is_dir():
        return []
    return sorted(path for path in work_dir.iterdir() if GENERATED.fullmatch(path.name))


def check_work_dir(work_dir: Path, inputs: Mapping[str, str | None]) -> None:
    """ConfigError when `work_dir` is not ours, or when an input (field -> local path or URI) lies in what the
    run would remove."""
    if work_dir.exists():
        if not work_dir.is_dir():
            raise ConfigError.single(str(work_dir), "is not a directory (--work-dir)")
        if any(work_dir.iterdir()) and not (work_dir / MARKER).exists():
            raise ConfigError.single(
                str(work_dir), f"is not empty and was not made by a local job (no {MARKER}); choose another --work-dir"
            )
    removed = [path.resolve() for path in generated_entries(work_dir)]
    problems = []
    for field, uri in inputs.items():
        if not uri or is_s3_uri(uri):
            continue
        path = local_path(uri).resolve()
        inside = next((entry for entry in removed if path == entry or path.is_relative_to(entry)), None)
        if inside is not None:
            problems.append(
                Problem(
                    str(path),
                    f"is an input of the job but lies in {inside}, which a run in --work-dir {work_dir} replaces; "
                    "copy it elsewhere or choose another --work-dir",
                    field,
                )
            )
    if problems:
        raise ConfigError(problems)


def prepare_work_dir(work_dir: Path) -> None:
    """Make `work_dir` (marked as ours) ready for a run: remove what the previous run made, saying so."""
    entries = generated_entries(work_dir)
    if entries:
        log.info(
            "work dir %s: removing the previous run's %s (outputs under %s are kept)",
            work_dir,
            ", ".join(path.name for path in entries),
            work_dir / OUTPUT_DIR,
        )
    for path in entries:
        if path.is_dir() and not path.is_symlink():
            _remove_tree(path)
        else:
            path.unlink()
    work_dir.mkdir(parents=True, exist_ok=True)
    (work_dir / MARKER).touch()


def _remove_tree(path: Path) -> None:
    """rmtree that first makes read-only directories (FastFile channels) writable again."""
    for directory in [path, *(p for p in path.rglob("*") if p.is_dir() and not p.is_symlink())]:
        directory.chmod(directory.stat().st_mode | stat.S_IWUSR | stat.S_IXUSR)
    shutil.rmtree(path)
