"""Warm pools with real pip installs and real `train` runs: each "container" is a fresh throwaway venv (the image),
and only the warm pool directory is kept between them, as on the platform. The second job with the same
requirements.txt installs nothing and still imports the packages, at the versions requirements.txt asks for."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from smtoolkit.usercode.warmpool import CACHE_DIR_VARIABLE
from tests.conftest import write_job_tree
from tests.integration.throwaway import fresh_container, launcher_install, launcher_train, pip, venv_environ
from tests.wheels import write_wheel

pytestmark = pytest.mark.integration

# The user's code: which smtk_warm_a it imports, and what the console script of smtk-warm-b prints (on PATH).
TRAIN = """
import json, subprocess, smtk_warm_a
tool = subprocess.run(["smtk-warm-tool"], capture_output=True, text=True, check=True).stdout.strip()
open("../model/seen.json", "w").write(json.dumps({"a": smtk_warm_a.VERSION, "at": smtk_warm_a.__file__, "tool": tool}))
"""


def _wheels(folder: Path) -> Path:
    for version in ("1.0", "2.0"):
        write_wheel(folder, "smtk-warm-a", version)
    write_wheel(folder, "smtk-warm-b", "0.1", script="smtk-warm-tool")
    return folder


def _job(base: Path, wheels: Path, *pins: str) -> Path:
    write_job_tree(base, hyperparameters={"sagemaker_program": json.dumps("train.py")})
    (base / "code").mkdir(exist_ok=True)
    (base / "code" / "train.py").write_text(TRAIN)
    lines = ["--no-index", f"--find-links {wheels}", *pins]
    (base / "code" / "requirements.txt").write_text("\n".join(lines) + "\n")
    (base / "model").mkdir(exist_ok=True)
    return base


def _container(path: Path, wheels: Path) -> Path:
    """A fresh container from an image that ships smtk-warm-a 1.0 (at `path`: the same interpreter path each time,
    as in containers from one image; what an earlier container installed there is gone)."""
    python = fresh_container(path)
    pip(python, "install", "--no-index", "--find-links", str(wheels), "smtk-warm-a==1.0")
    return python


def _train(python: Path, base: Path, warm: dict[str, str]) -> tuple[dict[str, str], str]:
    result = launcher_train(python, base, warm)
    assert result.returncode == 0, result.stderr
    return json.loads((base / "model" / "seen.json").read_text()), result.stderr


def test_a_second_container_on_the_warm_instance_reuses_the_install(tmp_path: Path) -> None:
    wheels = _wheels(tmp_path / "wheels")
    base = _job(tmp_path / "job", wheels, "smtk-warm-a==2.0", "smtk-warm-b")
    warm = {CACHE_DIR_VARIABLE: str(tmp_path / "warmpool")}
    envs = tmp_path / "warmpool" / "smtoolkit" / "envs"

    seen, log = _train(_container(tmp_path / "image", wheels), base, warm)
    assert "install requirements.txt into" in log
    assert seen["a"] == "2.0" and seen["at"].startswith(str(envs)) and seen["tool"] == "0.1"
    [env] = [p for p in envs.iterdir() if not p.name.startswith(".")]
    assert json.loads((env / "record.json").read_text())["distributions"] == {
        "smtk-warm-a": "2.0",
        "smtk-warm-b": "0.1",
    }

    second = _container(tmp_path / "image", wheels)  # a new container: the first one's installs are gone
    plan = subprocess.run(
        [str(second), "-m", "smtoolkit", "train", "--dry-run"],
        env=venv_environ({"SAGEMAKER_BASE_DIR": str(base), **warm}),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert json.loads(plan.stdout)["warm_pool_env"] == {"reuse": str(env)}
    seen, log = _train(second, base, warm)
    assert "already installed on this warm instance" in log and "install requirements.txt" not in log
    assert seen == {"a": "2.0", "at": seen["at"], "tool": "0.1"} and seen["at"].startswith(str(env))


def test_an_install_cut_short_is_never_reused(tmp_path: Path) -> None:
    wheels = _wheels(tmp_path / "wheels")
    base = _job(tmp_path / "job", wheels, "smtk-warm-a==2.0", "smtk-warm-missing")  # pip fails: no such wheel
    warm = {CACHE_DIR_VARIABLE: str(tmp_path / "warmpool")}
    python = _container(tmp_path / "image", wheels)
    assert launcher_train(python, base, warm).returncode == 1
    assert list((tmp_path / "warmpool" / "smtoolkit" / "envs").iterdir()) == [
        tmp_path / "warmpool" / "smtoolkit" / "envs" / ".lock"
    ]


def test_other_requirements_install_again_and_no_warm_pool_always_installs(tmp_path: Path) -> None:
    wheels = _wheels(tmp_path / "wheels")
    code = _job(tmp_path / "job", wheels, "smtk-warm-a==2.0") / "code"
    warm = {CACHE_DIR_VARIABLE: str(tmp_path / "warmpool")}
    image = tmp_path / "image"
    assert launcher_install(fresh_container(image), code, warm)[0] == 1
    assert launcher_install(fresh_container(image), code, warm)[0] == 0
    (code / "requirements.txt").write_text(f"--no-index\n--find-links {wheels}\nsmtk-warm-a==1.0\n")
    assert launcher_install(fresh_container(image), code, warm)[0] == 1
    assert launcher_install(fresh_container(image), code, {})[0] == 1
    assert launcher_install(fresh_container(image), code, {})[0] == 1
