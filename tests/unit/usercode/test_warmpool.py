"""The warm pool cache: what the requirements key depends on, when a record counts as still installed, and the
cache dir handed to pip. (tests/integration/test_warmpool.py runs real pip installs.)"""

from __future__ import annotations

import json
from importlib import metadata
from pathlib import Path

import pytest

from smtoolkit.config.launcher import LauncherSettings
from smtoolkit.usercode.deps import install_steps
from smtoolkit.usercode.install import planned_install_steps, reusable_install_record
from smtoolkit.usercode.warmpool import (
    CACHE_DIR_VARIABLE,
    requirements_key,
    still_installed,
    warm_pool_cache,
    write_record,
)


def _code(tmp_path: Path, requirements: str, **files: str) -> Path:
    (tmp_path / "requirements.txt").write_text(requirements)
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    return tmp_path


def test_same_inputs_same_key_and_each_input_changes_it(tmp_path: Path) -> None:
    code = _code(tmp_path, "-r base.txt\nrequests==2.31\n", **{"base.txt": "idna==3.6\n"})
    key = requirements_key(code, {})
    assert key is not None and key == requirements_key(code, {"PIP_NO_CACHE_DIR": "1", "HOME": "/x"})
    assert requirements_key(code, {"PIP_INDEX_URL": "https://mirror/simple"}) != key
    assert requirements_key(code, {"CA_REPOSITORY_ARN": "arn:aws:codeartifact:r:1:repository/d/r"}) != key
    (code / "base.txt").write_text("idna==3.7\n")  # an included file changed
    assert requirements_key(code, {}) != key


@pytest.mark.parametrize(
    "requirements",
    ["-e ./mypkg\n", "./mypkg\n", "mypkg @ file:///src/mypkg\n", "-r missing.txt\n"],
)
def test_local_code_or_a_missing_include_is_never_reused(tmp_path: Path, requirements: str) -> None:
    assert requirements_key(_code(tmp_path, requirements), {}) is None


def test_no_warm_pool_or_a_package_code_dir_has_no_record(tmp_path: Path) -> None:
    code = _code(tmp_path, "x==1\n")
    warm = {CACHE_DIR_VARIABLE: str(tmp_path / "warm")}
    assert reusable_install_record(code, {}) is None
    record = reusable_install_record(code, warm)
    assert record is not None and record.parent == tmp_path / "warm" / "smtoolkit" / "requirements"
    (code / "pyproject.toml").write_text("")
    assert reusable_install_record(code, warm) is None


def test_pip_caches_in_the_warm_pool_dir(tmp_path: Path) -> None:
    code = _code(tmp_path, "x==1\n")
    [step] = planned_install_steps(code, LauncherSettings(), {CACHE_DIR_VARIABLE: str(tmp_path / "warm")})
    assert step.argv[6:8] == ("--cache-dir", str(tmp_path / "warm" / "smtoolkit" / "pip"))
    assert "--cache-dir" not in install_steps(code)[0].argv
    assert warm_pool_cache({}) is None


def test_a_record_counts_only_while_each_distribution_is_installed_at_its_version(tmp_path: Path) -> None:
    record = tmp_path / "requirements" / "k.json"
    pydantic = metadata.version("pydantic")
    write_record(record, before={"pydantic": "0.1"}, after={"pydantic": pydantic, "pytest": metadata.version("pytest")})
    assert json.loads(record.read_text())["distributions"]["pydantic"] == pydantic
    assert still_installed(record)
    write_record(record, before={}, after={"pydantic": "0.0.1"})  # another version than the one installed
    assert not still_installed(record)
    write_record(record, before={}, after={"smtk-not-installed": "1.0"})
    assert not still_installed(record)


@pytest.mark.parametrize("text", ["", "{", "[]", '{"distributions": ["a"]}', '{"other": {}}'])
def test_a_damaged_record_means_install(tmp_path: Path, text: str) -> None:
    record = tmp_path / "k.json"
    record.write_text(text)
    assert not still_installed(record)
    assert not still_installed(tmp_path / "missing.json")


def test_a_cache_dir_that_cannot_be_written_is_a_warning_not_a_failure(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "requirements").write_text("a file where the records folder should be")
    record = tmp_path / "requirements" / "k.json"
    write_record(record, before={}, after={"pydantic": metadata.version("pydantic")})
    assert "cannot write the warm pool record" in caplog.text
    assert not still_installed(record)
