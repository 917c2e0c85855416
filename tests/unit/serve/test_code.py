"""Where serve finds the inference code, what it fetches, and which directory's requirements it installs."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path
from typing import Any

import pytest

from smtoolkit.config.launcher import LauncherSettings
from smtoolkit.config.serving import ServingSettings
from smtoolkit.errors import CodeFetchError, EntryPointError, InstallError
from smtoolkit.paths import JobPaths
from smtoolkit.serve.code import CodeSource, PreparedCode, code_source, prepare_code
from smtoolkit.usercode.install import planned_install_steps

SCRIPT = b"def model_fn(model_dir):\n    return None\n"


def _tarball(path: Path, files: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def test_code_source_for_each_kind_of_submit_directory(tmp_path: Path):
    paths = JobPaths(tmp_path / "ml")
    code, model_code = paths.code_dir, paths.model_code_dir
    assert code_source(ServingSettings(), paths) == CodeSource((code, model_code))
    assert code_source(ServingSettings(submit_directory=str(tmp_path)), paths) == CodeSource((tmp_path, model_code))
    in_place = code_source(ServingSettings(submit_directory=f"file://{tmp_path}"), paths)
    assert in_place == CodeSource((tmp_path, model_code))
    for uri in ("s3://bucket/src/sourcedir.tar.gz", str(tmp_path / "sourcedir.tar.gz"), "http://host/code"):
        fetched = code_source(ServingSettings(submit_directory=uri), paths)
        assert fetched == CodeSource((code, model_code), fetch_uri=uri, fetch_into=code)


def _prepare(tmp_path: Path, launcher: LauncherSettings | None = None, **settings: Any) -> PreparedCode:
    return prepare_code(
        ServingSettings(**settings), JobPaths(tmp_path / "ml"), launcher or LauncherSettings(), {"PATH": "/usr/bin"}
    )


def test_a_tarball_is_unpacked_into_the_code_dir(tmp_path: Path):
    archive = _tarball(tmp_path / "sourcedir.tar.gz", {"serve_me.py": SCRIPT})
    prepared = _prepare(tmp_path, submit_directory=str(archive), program="serve_me.py")
    assert prepared.code_dir == tmp_path / "ml" / "code"
    assert prepared.script.read_bytes() == SCRIPT


def test_the_sdk_layout_model_code_is_the_fallback(tmp_path: Path):
    model_code = tmp_path / "ml" / "model" / "code"
    model_code.mkdir(parents=True)
    (model_code / "inference.py").write_bytes(SCRIPT)
    prepared = _prepare(tmp_path)
    assert (prepared.code_dir, prepared.script) == (model_code, model_code / "inference.py")


def test_fetch_and_lookup_failures_are_clear(tmp_path: Path):
    with pytest.raises(CodeFetchError, match="no such file or directory"):
        _prepare(tmp_path, submit_directory=str(tmp_path / "missing.tar.gz"))
    with pytest.raises(CodeFetchError, match="unsupported URI scheme"):
        _prepare(tmp_path, submit_directory="http://host/sourcedir.tar.gz")
    with pytest.raises(EntryPointError, match="inference.py not found"):
        _prepare(tmp_path)


def test_requirements_of_the_scripts_directory_are_planned_and_can_be_switched_off(tmp_path: Path):
    code = tmp_path / "ml" / "code"
    code.mkdir(parents=True)
    (code / "inference.py").write_bytes(SCRIPT)
    (code / "requirements.txt").write_text("--no-index\nsmtk-missing-package==9.9\n")
    [step] = planned_install_steps(code, LauncherSettings())
    assert step.argv[-2:] == ("-r", "requirements.txt") and step.cwd == code
    assert _prepare(tmp_path, LauncherSettings(install_requirements=False)).code_dir == code


def test_a_failed_install_is_an_install_error_with_pips_message(tmp_path: Path):
    code = tmp_path / "ml" / "code"
    code.mkdir(parents=True)
    (code / "inference.py").write_bytes(SCRIPT)
    (code / "requirements.txt").write_text("--no-index\nsmtk-missing-package==9.9\n")
    with pytest.raises(InstallError, match="install requirements.txt failed with exit code 1") as caught:
        _prepare(tmp_path)
    assert "smtk-missing-package" in str(caught.value)
