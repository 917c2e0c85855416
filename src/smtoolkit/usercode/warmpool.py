"""Warm pools: what a job keeps in SAGEMAKER_MANAGED_WARMPOOL_CACHE_DIRECTORY for the next job on the same instance.

Under `<that dir>/smtoolkit/`: pip's cache (`pip/`, wheels downloaded or built, so a reinstall neither downloads
nor compiles) and one environment per installed requirements.txt (`envs/<key>/`: `site/` for the packages,
`bin/` for their scripts, `record.json` last). Each job on the platform starts a new container from the image, so
what pip put into the image's site-packages is gone; an env in the warm pool dir is not, and a later job with the
same key only puts it first on the user process's PYTHONPATH (and its bin/ on PATH) instead of installing.

The key hashes what decides pip's result: requirements.txt and the files it includes (-r/-c), the Python version
and interpreter, the PIP_* / CA_REPOSITORY_ARN settings, and the distributions the image already has (pip installs
only what they lack, so another image needs another env). This module decides, purely; usercode.warmenv installs.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

CACHE_DIR_VARIABLE = "SAGEMAKER_MANAGED_WARMPOOL_CACHE_DIRECTORY"
REQUIREMENTS = "requirements.txt"
RECORD = "record.json"
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

    @property
    def envs_dir(self) -> Path:
        return self.root / "envs"


@dataclass(frozen=True)
class WarmEnv:
    """The environment of one requirements key: reused when complete, else installed (through a temporary
    folder renamed to `directory` once pip succeeded, so a half-finished install is never found here)."""

    directory: Path
    reuse: bool

    @property
    def site(self) -> Path:
        return self.directory / "site"

    @property
    def bin(self) -> Path:
        return self.directory / "bin"

    @property
    def record(self) -> Path:
        return self.directory / RECORD

    def describe(self) -> dict[str, str]:
        return {"reuse" if self.reuse else "install into": str(self.directory)}


def warm_pool_cache(environ: Mapping[str, str]) -> WarmPoolCache | None:
    """The cache when the platform gives the job a warm pool directory, else None."""
    directory = environ.get(CACHE_DIR_VARIABLE)
    # Absolute: pip runs in the code dir, which a relative path would send it into.
    return WarmPoolCache(Path(directory).absolute() / "smtoolkit") if directory else None


def planned_env(code_dir: Path, environ: Mapping[str, str], is_package: bool) -> WarmEnv | None:
    """The warm env for code_dir's requirements.txt alone (a code dir that is a package installs its own changing
    code, so it installs as usual), or None without a warm pool or when the install cannot be reused."""
    cache = warm_pool_cache(environ)
    if cache is None or is_package:
        return None
    key = requirements_key(code_dir, environ)
    if key is None:
        return None
    directory = cache.envs_dir / key
    return WarmEnv(directory, is_complete(directory))


def is_complete(directory: Path) -> bool:
    """An env is complete once its record is there (written into the temporary folder before the rename)."""
    try:
        return isinstance(json.loads((directory / RECORD).read_text()).get("distributions"), dict)
    except (OSError, ValueError, AttributeError):
        return False


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
        "image": sorted(installed_distributions().items()),
    }
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:32]


def installed_distributions(paths: list[str] | None = None) -> dict[str, str]:
    """{normalized name: version} of the distributions on `paths` (default: what this interpreter imports from)."""
    found: dict[str, str] = {}
    found_on = metadata.distributions() if paths is None else metadata.distributions(path=paths)
    for distribution in found_on:
        name = distribution.metadata["Name"]
        if name:
            found.setdefault(_normalized(name), distribution.version)
    return found


def _normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()
