"""Warm pools: what a job keeps in SAGEMAKER_MANAGED_WARMPOOL_CACHE_DIRECTORY for the next job on the same instance.

Two things live under `<that dir>/smtoolkit/`: pip's cache (`pip/`, wheels downloaded or built, so a reinstall
neither downloads nor compiles) and one record per installed requirements.txt (`requirements/<key>.json`). The key
hashes what decides pip's result: requirements.txt and the files it includes (-r/-c), the Python version and
interpreter, and the PIP_* / CA_REPOSITORY_ARN settings. A record lists the distributions that install added or
changed with their versions; the install is skipped only while importlib.metadata still finds each of them at that
version (a fresh container from the image has lost them, so pip runs again, from the cache).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

logger = logging.getLogger(__name__)

CACHE_DIR_VARIABLE = "SAGEMAKER_MANAGED_WARMPOOL_CACHE_DIRECTORY"
REQUIREMENTS = "requirements.txt"
# pip settings that change nothing about what gets installed; every other PIP_* variable is part of the key.
_NEUTRAL_PIP_VARIABLES = frozenset(
    {"PIP_NO_CACHE_DIR", "PIP_CACHE_DIR", "PIP_DISABLE_PIP_VERSION_CHECK", "PIP_NO_INPUT", "PIP_PROGRESS_BAR"}
)
_INCLUDE = re.compile(r"^(?:-r|-c|--requirement|--constraint)[\s=]+(?P<path>\S+)")
# Lines naming local code (a path, an editable, a file: URL): its content can change under the same line.
_LOCAL = re.compile(r"^(?:-e|--editable|\.|/|~|file:)|@\s*file:")


@dataclass(frozen=True)
class WarmPoolCache:
    root: Path  # <SAGEMAKER_MANAGED_WARMPOOL_CACHE_DIRECTORY>/smtoolkit

    @property
    def pip_cache_dir(self) -> Path:
        return self.root / "pip"

    def record_path(self, key: str) -> Path:
        return self.root / "requirements" / f"{key}.json"


def warm_pool_cache(environ: Mapping[str, str]) -> WarmPoolCache | None:
    """The cache when the platform gives the job a warm pool directory, else None."""
    directory = environ.get(CACHE_DIR_VARIABLE)
    return WarmPoolCache(Path(directory) / "smtoolkit") if directory else None


def requirements_key(code_dir: Path, environ: Mapping[str, str]) -> str | None:
    """The hash that names code_dir's requirements.txt install, or None when it cannot be reused safely
    (no requirements.txt, an included file missing, or a line naming local code)."""
    contents: dict[str, str] = {}
    pending = [REQUIREMENTS]
    while pending:
        name = pending.pop()
        if name in contents:
            continue
        try:
            text = (code_dir / name).read_text()
        except OSError:
            return None
        contents[name] = hashlib.sha256(text.encode()).hexdigest()
        for line in (raw.split(" #", 1)[0].strip() for raw in text.splitlines()):
            if _LOCAL.search(line):
                return None
            included = _INCLUDE.match(line)
            if included:
                pending.append(os.path.normpath(str(Path(name).parent / included["path"])))
    pip_settings = {
        name: value
        for name, value in environ.items()
        if (name.startswith("PIP_") and name not in _NEUTRAL_PIP_VARIABLES) or name == "CA_REPOSITORY_ARN"
    }
    identity = {
        "files": contents,
        "python": [sys.implementation.name, *map(str, sys.version_info[:3]), sys.executable],
        "pip": sorted(pip_settings.items()),
    }
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:32]


def installed_distributions() -> dict[str, str]:
    """{normalized name: version} of what this interpreter imports from (the environment pip installs into)."""
    found: dict[str, str] = {}
    for distribution in metadata.distributions():
        name = distribution.metadata["Name"]
        if name:
            found.setdefault(_normalized(name), distribution.version)
    return found


def still_installed(record: Path) -> bool:
    """True when the record exists and every distribution it lists is installed at the recorded version."""
    try:
        recorded = json.loads(record.read_text())["distributions"]
    except (OSError, ValueError, KeyError, TypeError):
        return False
    if not isinstance(recorded, dict):
        return False
    present = installed_distributions()
    missing = {name: version for name, version in recorded.items() if present.get(name) != version}
    if missing:
        logger.info("warm pool record %s: %d distributions gone or changed, installing again", record, len(missing))
    return not missing


def write_record(record: Path, before: Mapping[str, str], after: Mapping[str, str]) -> None:
    """Record what the install added or changed (write then rename: a stop never leaves half a record). A cache
    that cannot be written costs the next job its skip, never this job: a warning, not an error."""
    changed = {name: version for name, version in sorted(after.items()) if before.get(name) != version}
    try:
        record.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", dir=record.parent, suffix=".partial", delete=False) as handle:
            json.dump({"distributions": changed}, handle, indent=1)
        os.replace(handle.name, record)
    except OSError as error:
        logger.warning("cannot write the warm pool record %s (%s): the next job installs again", record, error)


def _normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()
