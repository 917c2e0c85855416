"""Warm pools with real pip installs into a throwaway venv: the second start with the same requirements.txt skips
the install, and installs again when the record no longer matches what is installed or the requirements change."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from smtoolkit.usercode.warmpool import CACHE_DIR_VARIABLE
from tests.integration.throwaway import launcher_install, pip_uninstall, throwaway_venv
from tests.wheels import write_wheel

pytestmark = pytest.mark.integration


def _requirements(code_dir: Path, wheels: Path, *pins: str) -> None:
    code_dir.mkdir(exist_ok=True)
    lines = ["--no-index", f"--find-links {wheels}", *pins]
    (code_dir / "requirements.txt").write_text("\n".join(lines) + "\n")


def test_same_requirements_on_a_warm_instance_skip_the_install(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    for version in ("1.0", "2.0"):
        write_wheel(wheels, "smtk-warm-a", version)
    write_wheel(wheels, "smtk-warm-b", "0.1")
    python = throwaway_venv(tmp_path / "venv")
    code = tmp_path / "code"
    _requirements(code, wheels, "smtk-warm-a==1.0", "smtk-warm-b")
    warm = {CACHE_DIR_VARIABLE: str(tmp_path / "warmpool")}

    assert launcher_install(python, code, warm)[0] == 1
    records = list((tmp_path / "warmpool" / "smtoolkit" / "requirements").glob("*.json"))
    assert [json.loads(r.read_text()) for r in records] == [
        {"distributions": {"smtk-warm-a": "1.0", "smtk-warm-b": "0.1"}}
    ]
    assert launcher_install(python, code, warm)[0] == 0  # same requirements, still installed: skipped

    pip_uninstall(python, "smtk-warm-b")  # a fresh container from the image has lost what was installed
    assert launcher_install(python, code, warm)[0] == 1
    assert launcher_install(python, code, warm)[0] == 0

    _requirements(code, wheels, "smtk-warm-a==2.0", "smtk-warm-b")  # other requirements: another record
    assert launcher_install(python, code, warm)[0] == 1
    assert len(list(records[0].parent.glob("*.json"))) == 2


def test_without_a_warm_pool_every_start_installs(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    write_wheel(wheels, "smtk-warm-a", "1.0")
    python = throwaway_venv(tmp_path / "venv")
    _requirements(tmp_path / "code", wheels, "smtk-warm-a==1.0")
    assert launcher_install(python, tmp_path / "code", {})[0] == 1
    assert launcher_install(python, tmp_path / "code", {})[0] == 1
