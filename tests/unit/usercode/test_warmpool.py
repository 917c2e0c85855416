"""The warm pool cache: what the requirements key depends on, when an env is reused or installed into, the pip
command, and the install into a temporary folder (usercode.warmenv) with a stand-in for pip.
(tests/integration/test_warmpool.py runs real pip installs in fresh venvs.)"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from smtoolkit.config.launcher import LauncherSettings
from smtoolkit.errors import InstallError
from smtoolkit.usercode import warmenv
from smtoolkit.usercode.deps import install_steps
from smtoolkit.usercode.install import import_paths, planned_env, planned_install_steps, run_install_step
from smtoolkit.usercode.sitedirs import HOOK_DIR, SITE_DIRS_VARIABLE
from smtoolkit.usercode.warmpool import CACHE_DIR_VARIABLE, WarmEnv, requirements_key, warm_pool_cache


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


def test_no_warm_pool_or_a_package_code_dir_has_no_env(tmp_path: Path) -> None:
    code = _code(tmp_path, "x==1\n")
    warm = {CACHE_DIR_VARIABLE: str(tmp_path / "warm")}
    assert planned_env(code, {}) is None
    assert import_paths(None, {"PYTHONPATH": "/img"}, code) == {"PYTHONPATH": f"{code}:/img"}
    env = planned_env(code, warm)
    assert env is not None and not env.reuse and env.directory.parent == tmp_path / "warm" / "smtoolkit" / "envs"
    (code / "pyproject.toml").write_text("")
    assert planned_env(code, warm) is None


def test_pip_caches_in_the_warm_pool_dir_and_installs_into_the_env(tmp_path: Path) -> None:
    code = _code(tmp_path, "x==1\n")
    warm = {CACHE_DIR_VARIABLE: str(tmp_path / "warm")}
    [step] = planned_install_steps(code, LauncherSettings(), warm)
    env = planned_env(code, warm)
    assert env is not None and step.into == env.directory
    assert step.argv[6:10] == (
        "--cache-dir",
        str(tmp_path / "warm" / "smtoolkit" / "pip"),
        "--prefix",
        str(env.directory),
    )
    assert "--cache-dir" not in install_steps(code)[0].argv and "--prefix" not in install_steps(code)[0].argv
    assert warm_pool_cache({}) is None and warm_pool_cache({CACHE_DIR_VARIABLE: ""}) is None
    relative = warm_pool_cache({CACHE_DIR_VARIABLE: "warm"})
    assert relative is not None and relative.root == Path.cwd() / "warm" / "smtoolkit"
    assert import_paths(env, {"PATH": "/usr/bin"}, code) == {
        "PYTHONPATH": f"{HOOK_DIR}:{code}:{env.site}",  # the hook that runs the env's .pth files, then the env
        "PATH": f"{env.bin}:/usr/bin",
        SITE_DIRS_VARIABLE: str(env.site),
    }


def _fake_pip(files: dict[str, str]) -> Callable[[Path], None]:
    """Writes what pip --prefix would (lib/pythonX.Y/site-packages, bin/) into the prefix it is given."""

    def install(prefix: Path) -> None:
        for name, text in files.items():
            path = prefix / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)

    return install


SITE = "lib/python3.11/site-packages"
WHEEL = {f"{SITE}/demo/__init__.py": "", f"{SITE}/demo-1.0.dist-info/METADATA": "Name: demo\nVersion: 1.0\n"}


def test_an_env_is_complete_only_after_pip_succeeded_and_is_then_reused(tmp_path: Path) -> None:
    code = _code(tmp_path, "demo==1.0\n")
    warm = {CACHE_DIR_VARIABLE: str(tmp_path / "warm")}
    env = planned_env(code, warm)
    assert env is not None

    def pip_fails(prefix: Path) -> None:
        _fake_pip(WHEEL)(prefix)
        raise InstallError("pip failed halfway")

    with pytest.raises(InstallError):
        warmenv.install_env(env, pip_fails)
    assert sorted(p.name for p in env.directory.parent.iterdir()) == [".lock"]  # no env, no leftover
    assert planned_env(code, warm) == env  # still "install into"

    warmenv.install_env(env, _fake_pip({**WHEEL, "bin/demo": "#!/usr/bin/python\n"}))
    assert (env.site / "demo" / "__init__.py").is_file() and (env.bin / "demo").is_file()
    assert env.directory.stat().st_mode & 0o777 == 0o755
    assert json.loads(env.record.read_text()) == {"distributions": {"demo": "1.0"}}
    assert not (env.directory / "lib").exists()
    reused = planned_env(code, warm)
    assert reused == WarmEnv(env.directory, reuse=True)
    assert planned_install_steps(code, LauncherSettings(), warm) == []


def test_debians_prefix_layout_is_moved_into_site_and_bin(tmp_path: Path) -> None:
    env = WarmEnv(tmp_path / "envs" / "k", reuse=False)
    debian = {f"local/{name.replace('site-packages', 'dist-packages')}": text for name, text in WHEEL.items()}
    warmenv.install_env(env, _fake_pip({**debian, "local/bin/demo": "#!/usr/bin/python3\n"}))
    assert (env.site / "demo" / "__init__.py").is_file() and (env.bin / "demo").is_file()
    assert sorted(p.name for p in env.directory.iterdir()) == ["bin", "record.json", "site"]


def test_a_leftover_of_a_killed_install_is_removed_and_a_damaged_env_reinstalled(tmp_path: Path) -> None:
    env = WarmEnv(tmp_path / "envs" / "k1", reuse=False)
    leftover = tmp_path / "envs" / ".k0.partial-abc"
    (leftover / "lib").mkdir(parents=True)
    env.directory.mkdir()
    (env.directory / "record.json").write_text("{")  # damaged: not complete
    warmenv.install_env(env, _fake_pip(WHEEL))
    assert not leftover.exists() and json.loads(env.record.read_text())["distributions"] == {"demo": "1.0"}


def test_only_the_most_recently_used_envs_are_kept(tmp_path: Path) -> None:
    envs = [WarmEnv(tmp_path / "envs" / f"k{index}", reuse=False) for index in range(warmenv.KEEP_ENVS)]
    for age, env in enumerate(envs):
        warmenv.install_env(env, _fake_pip(WHEEL))
        os.utime(env.record, (1000 + age, 1000 + age))
    warmenv.mark_used(envs[0])  # reused by a job now: the most recently used
    warmenv.install_env(WarmEnv(tmp_path / "envs" / "new", reuse=False), _fake_pip(WHEEL))
    kept = sorted(p.name for p in (tmp_path / "envs").iterdir() if not p.name.startswith("."))
    assert kept == ["k0", "k2", "new"]  # k1, the least recently used, went


def test_a_warm_pool_dir_that_cannot_be_written_installs_as_usual(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "warm").write_text("a file where the warm pool dir should be")
    code = _code(tmp_path, "x==1\n")
    [step] = planned_install_steps(code, LauncherSettings(), {CACHE_DIR_VARIABLE: str(tmp_path / "warm")})
    # A stand-in for pip that records its argv: the install still runs, without --prefix.
    stand_in = ("sh", "-c", 'echo "$@" > argv', "pip", *step.argv[1:])
    run_install_step(step.__class__(step.description, stand_in, code, into=step.into), LauncherSettings(), {})
    assert "cannot install into the warm pool env" in caplog.text
    assert "--prefix" not in (code / "argv").read_text() and "-r requirements.txt" in (code / "argv").read_text()
