"""A throwaway venv that pip really installs into, and the launcher's install step run in it.

The venv has no pip and no packages of its own: this interpreter's site-packages (pydantic, pip, ...) and the
source tree come through PYTHONPATH, while pip installs into the venv's own site-packages (its sys.prefix), so
nothing lands in the shared environment.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from collections.abc import Mapping
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"
# Runs in the venv: one launcher install (what `train` does before the user's code), timed.
_INSTALL = """
import json, os, sys, time
from pathlib import Path
from smtoolkit.config.launcher import LauncherSettings
from smtoolkit.usercode.install import install_code_dependencies
started = time.perf_counter()
installed = install_code_dependencies(Path(sys.argv[1]), LauncherSettings(), os.environ)
print(json.dumps({"steps": len(installed.steps), "seconds": time.perf_counter() - started}))
"""


def throwaway_venv(path: Path) -> Path:
    """A venv at `path` without pip; returns its python."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True)
    return path / "bin" / "python"


def fresh_container(path: Path) -> Path:
    """A new container from the same image: a new venv at `path` (the interpreter path containers from one image
    share), without what an earlier venv there had installed; returns its python."""
    shutil.rmtree(path, ignore_errors=True)
    return throwaway_venv(path)


def venv_environ(extra: Mapping[str, str]) -> dict[str, str]:
    pythonpath = os.pathsep.join([str(SRC), sysconfig.get_paths()["purelib"]])
    return {**os.environ, "PYTHONPATH": pythonpath, "PIP_NO_CACHE_DIR": "1", **extra}


def launcher_install(python: Path, code_dir: Path, extra: Mapping[str, str]) -> tuple[int, float]:
    """(install steps run, seconds) of one launcher install of code_dir in the venv of `python`."""
    result = subprocess.run(
        [str(python), "-c", _INSTALL, str(code_dir)],
        env=venv_environ(extra),
        capture_output=True,
        text=True,
        timeout=300,
    )
    if result.returncode != 0:
        raise AssertionError(f"launcher install failed ({result.returncode}):\n{result.stderr[-3000:]}")
    report = json.loads(result.stdout.strip().splitlines()[-1])
    return int(report["steps"]), float(report["seconds"])


def launcher_train(python: Path, base: Path, extra: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
    """`train` of the job tree at `base`, run by the venv's python (a container started from that image)."""
    argv = [str(python), "-m", "smtoolkit", "train"]
    environ = venv_environ({"SAGEMAKER_BASE_DIR": str(base), **extra})
    return subprocess.run(argv, env=environ, capture_output=True, text=True, timeout=300)


def pip(python: Path, *args: str) -> None:
    """pip run by the venv's python: what the image was built with (`install ...`), or `uninstall ...`."""
    subprocess.run(
        [str(python), "-m", "pip", *args, "--quiet"],
        env=venv_environ({}),
        check=True,
        capture_output=True,
    )


def cached_venv(path: Path, requirements: tuple[str, ...]) -> Path:
    """A venv of its own (not sharing this interpreter's packages) at `path` with `requirements` installed, made
    once and kept while they stay the same; returns its python."""
    marker, wanted = path / ".installed", "\n".join(requirements)
    python = path / "bin" / "python"
    if not marker.exists() or marker.read_text() != wanted:
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(path)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", *requirements], check=True, timeout=600)
        marker.write_text(wanted)
    return python
