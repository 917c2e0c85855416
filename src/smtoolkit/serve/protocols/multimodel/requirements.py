"""A model's code/requirements.txt, installed once per distinct content for the whole endpoint.

Workers share one marker folder (in the store): the first worker to need a file installs it with the
project's pip steps under an fcntl lock; the others wait on the lock and then find the marker.
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib
import logging
from collections.abc import Mapping
from pathlib import Path

from smtoolkit.atomicfile import write_atomically
from smtoolkit.config.launcher import LauncherSettings
from smtoolkit.errors import InstallError, ServeError
from smtoolkit.usercode.deps import InstallStep
from smtoolkit.usercode.install import planned_install_steps, run_install_steps

logger = logging.getLogger(__name__)


class RequirementsInstaller:
    def __init__(self, marker_dir: Path, launcher: LauncherSettings, environ: Mapping[str, str]) -> None:
        self.marker_dir, self.launcher, self.environ = marker_dir, launcher, environ

    @staticmethod
    def _key(code_dir: Path, steps: list[InstallStep]) -> str:
        """The same requirements.txt content installs once; a package (pip install .) once per folder."""
        digest = hashlib.sha256()
        for step in steps:
            digest.update(repr(step.argv).encode())
            if "." in step.argv:
                digest.update(str(code_dir.resolve()).encode())
        requirements = code_dir / "requirements.txt"
        if requirements.is_file():
            digest.update(requirements.read_bytes())
        return digest.hexdigest()[:32]

    def ensure(self, code_dir: Path) -> bool:
        """Install what `code_dir` asks for unless the same content was installed already; True if pip ran."""
        if not self.launcher.install_requirements:
            return False
        steps = planned_install_steps(code_dir, self.launcher)
        if not steps:
            return False
        key = self._key(code_dir, steps)
        self.marker_dir.mkdir(parents=True, exist_ok=True)
        done = self.marker_dir / f"{key}.done"
        with open(self.marker_dir / f"{key}.lock", "a+b") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if done.exists():
                importlib.invalidate_caches()  # another worker installed it: this process's import caches predate it
                return False
            try:
                run_install_steps(steps, self.launcher, self.environ)
            except InstallError as exc:
                raise ServeError(f"{code_dir}: {exc}") from exc
            importlib.invalidate_caches()
            write_atomically(done, b"")
        logger.info("Installed the requirements of %s", code_dir)
        return True
