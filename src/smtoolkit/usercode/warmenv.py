"""Installing requirements.txt into a warm pool env (usercode.warmpool decides which one, and whether to).

Under a file lock (jobs on one instance do not overlap on SageMaker; two local runs could): pip installs with
`--prefix` into a hidden temporary folder beside the env, its site-packages becomes `site/`, the record is written
last, and the folder is renamed to the env's name. A job stopped halfway leaves only a temporary folder, removed by
the next install. After an install, only the KEEP_ENVS most recently used envs are kept.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from smtoolkit.usercode.warmpool import RECORD, WarmEnv, installed_distributions, is_complete

logger = logging.getLogger(__name__)

KEEP_ENVS = 3
_PARTIAL = ".partial-"
_SITE_DIRS = ("site-packages", "dist-packages")


def install_env(env: WarmEnv, install: Callable[[Path], None]) -> None:
    """Run `install(prefix)` (pip install --prefix PREFIX) into a temporary folder that becomes env.directory once
    it succeeded; an OSError when the warm pool dir cannot be written (the caller installs as usual)."""
    envs = env.directory.parent
    envs.mkdir(parents=True, exist_ok=True)
    with _locked(envs / ".lock"):
        if is_complete(env.directory):  # another run finished it while this one waited
            return
        _remove_partials(envs)
        partial = Path(tempfile.mkdtemp(prefix=f".{env.directory.name}{_PARTIAL}", dir=envs))
        try:
            partial.chmod(0o755)  # mkdtemp's 0700 would hide the env from a job that runs as another user
            install(partial)
            _finish(partial)
            shutil.rmtree(env.directory, ignore_errors=True)  # an incomplete leftover (no record)
            partial.rename(env.directory)
        finally:
            shutil.rmtree(partial, ignore_errors=True)
        _prune(envs, keep=env.directory)


def mark_used(env: WarmEnv) -> None:
    """Touch the record: eviction removes the least recently used envs first."""
    with contextlib.suppress(OSError):
        os.utime(env.record)


def _finish(prefix: Path) -> None:
    """Make pip's lib/pythonX.Y/site-packages (and a separate platlib) `site/`, then write the record. Debian's
    Python puts a prefix install under local/ (local/lib/pythonX.Y/dist-packages, local/bin): moved up too."""
    site, scripts = prefix / "site", prefix / "bin"
    site.mkdir()
    for top in (prefix, prefix / "local"):
        for found in sorted(p for lib in top.glob("lib*") for p in lib.glob("*/*") if p.name in _SITE_DIRS):
            for entry in found.iterdir():
                entry.rename(site / entry.name)
        if top != prefix and (top / "bin").is_dir():
            scripts.mkdir(exist_ok=True)
            for entry in (top / "bin").iterdir():
                entry.rename(scripts / entry.name)
    for layout in [*prefix.glob("lib*"), prefix / "local"]:
        shutil.rmtree(layout, ignore_errors=True)
    distributions = installed_distributions([str(site)])
    (prefix / RECORD).write_text(json.dumps({"distributions": distributions}, indent=1, sort_keys=True))


def _remove_partials(envs: Path) -> None:
    for leftover in envs.glob(f".*{_PARTIAL}*"):
        logger.info("removing %s, an install cut short", leftover)
        shutil.rmtree(leftover, ignore_errors=True)


def _prune(envs: Path, keep: Path) -> None:
    complete = [p for p in envs.iterdir() if not p.name.startswith(".") and p != keep and is_complete(p)]
    complete.sort(key=lambda p: (p / RECORD).stat().st_mtime, reverse=True)
    for old in complete[KEEP_ENVS - 1 :]:
        logger.info("removing the warm pool env %s (keeping the %d most recently used)", old, KEEP_ENVS)
        shutil.rmtree(old, ignore_errors=True)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    with open(path, "a+b") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield
