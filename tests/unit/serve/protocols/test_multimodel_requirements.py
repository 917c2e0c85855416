"""A model's code/requirements.txt is installed with the project's pip steps, once per distinct content."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from smtoolkit.config.launcher import LauncherSettings
from smtoolkit.errors import ServeError
from smtoolkit.serve.protocols.multimodel.requirements import RequirementsInstaller

# Offline: pydantic is installed already, so pip only checks it (real pip, no index reached).
SATISFIED = "--no-index\npydantic\n"


def code_dir(root: Path, name: str, requirements: str) -> Path:
    folder = root / name / "code"
    folder.mkdir(parents=True)
    (folder / "requirements.txt").write_text(requirements)
    return folder


def test_the_same_requirements_install_once(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    installer = RequirementsInstaller(tmp_path / "markers", LauncherSettings(), dict(os.environ))
    with caplog.at_level(logging.INFO):
        assert installer.ensure(code_dir(tmp_path, "a", SATISFIED)) is True
        assert installer.ensure(code_dir(tmp_path, "b", SATISFIED)) is False
        assert installer.ensure(code_dir(tmp_path, "c", SATISFIED + "# another file\n")) is True
    assert caplog.text.count("install requirements.txt:") == 2


def test_a_failing_install_fails_the_load_with_pips_reason(tmp_path: Path) -> None:
    installer = RequirementsInstaller(tmp_path / "markers", LauncherSettings(), dict(os.environ))
    folder = code_dir(tmp_path, "a", "--no-index\nno-such-package-smtoolkit-test\n")
    with pytest.raises(ServeError, match="(?s)install requirements.txt failed.*no-such-package-smtoolkit-test"):
        installer.ensure(folder)
    assert not list((tmp_path / "markers").glob("*.done"))


def test_nothing_runs_when_installs_are_off(tmp_path: Path) -> None:
    off = LauncherSettings(install_requirements=False)
    installer = RequirementsInstaller(tmp_path / "markers", off, dict(os.environ))
    assert installer.ensure(code_dir(tmp_path, "a", "no-such-package\n")) is False
