"""usercode.sitedirs.add_site_dir: a warm pool env's site/ processed as site-packages is (in-process, real .pth
files; sys.path is restored after each test)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from smtoolkit.usercode.sitedirs import SITE_DIRS_VARIABLE, add_site_dir, add_site_dirs_from


@pytest.fixture(autouse=True)
def _own_sys_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "path", ["/image/site-packages", "/image/other"])


def _site(tmp_path: Path, name: str, pth: str) -> Path:
    site = tmp_path / name
    (site / "extra").mkdir(parents=True)
    (site / f"{name}.pth").write_text(pth)
    return site


def test_the_dirs_a_pth_names_come_right_after_the_site_dir_and_its_import_lines_run(tmp_path: Path) -> None:
    site = _site(tmp_path, "site", "extra\nmissing\nimport os; os.environ['SMTK_SITEDIRS_TEST'] = 'ran'\n")
    add_site_dir(str(site))
    assert sys.path == [str(site), str(site / "extra"), "/image/site-packages", "/image/other"]
    assert os.environ.pop("SMTK_SITEDIRS_TEST") == "ran"
    add_site_dir(str(site))  # twice: nothing added again
    assert sys.path == [str(site), str(site / "extra"), "/image/site-packages", "/image/other"]


def test_a_site_dir_already_on_the_path_keeps_its_place(tmp_path: Path) -> None:
    site = _site(tmp_path, "site", "extra\n")
    sys.path[1:1] = [str(site)]  # where PYTHONPATH put it
    add_site_dir(str(site))
    assert sys.path == ["/image/site-packages", str(site), str(site / "extra"), "/image/other"]


def test_an_import_line_that_moves_sys_path_itself_is_left_as_it_made_it(tmp_path: Path) -> None:
    site = _site(tmp_path, "site", "import sys; sys.path.insert(0, '/first')\nextra\n")
    add_site_dir(str(site))
    assert sys.path == ["/first", str(site), "/image/site-packages", "/image/other", str(site / "extra")]


def test_the_variable_names_the_dirs_first_one_first(tmp_path: Path) -> None:
    one, two = _site(tmp_path, "one", "extra\n"), _site(tmp_path, "two", "extra\n")
    add_site_dirs_from({SITE_DIRS_VARIABLE: os.pathsep.join([str(one), str(two)])})
    assert sys.path[:4] == [str(one), str(one / "extra"), str(two), str(two / "extra")]
    add_site_dirs_from({})
    assert len(sys.path) == 6


def test_the_variable_is_known_to_the_settings_check() -> None:
    from smtoolkit.config.launcher import known_variables

    assert SITE_DIRS_VARIABLE in known_variables()  # a job's processes that run smtoolkit do not warn about it
