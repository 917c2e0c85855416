"""A warm pool env's .pth files run in the user's processes as they would from site-packages (real pip installs,
real `train` and `serve` runs, first and warm second start): the directory a .pth adds is importable, and found
before the image's own copy; its import line runs. In `train` (the env reaches the user's process through its
environment) a child process of the user's sees the same, and a sitecustomize of the user's still runs; `serve`
imports the script in its own process, where the env is activated, and a Python process the script starts sees it
too."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from smtoolkit.usercode.sitedirs import HOOK_DIR, SITE_DIRS_VARIABLE
from smtoolkit.usercode.warmpool import CACHE_DIR_VARIABLE
from tests.conftest import write_job_tree
from tests.integration.serving import Server, free_port, server_env, stop, wait_ready
from tests.integration.throwaway import SRC, fresh_container, launcher_train, pip, venv_environ
from tests.wheels import write_wheel

pytestmark = pytest.mark.integration

# What the .pth of smtk-warm-pth does: a directory line (relative to site-packages) and an import line.
PTH = "smtk_warm_pth_extra\nimport os; os.environ['SMTK_WARM_PTH'] = 'ran'\n"
PROBE = """
import os, subprocess, sys, smtk_pth_added
def seen(in_children=True):
    found = {"added": smtk_pth_added.VERSION, "hook": os.environ.get("SMTK_WARM_PTH")}
    if in_children:
        found["child"] = subprocess.run([sys.executable, "-c", "import smtk_pth_added as m; print(m.VERSION)"],
                                        capture_output=True, text=True, check=True).stdout.strip()
        found["user_sitecustomize"] = os.environ.get("SMTK_USER_SITECUSTOMIZE")
    return found
"""
TRAIN = PROBE + 'import json\nopen("../model/seen.json", "w").write(json.dumps(seen()))\n'
INFERENCE = PROBE + (
    "def model_fn(model_dir):\n    return None\n\ndef predict_fn(data, model):\n"
    "    found = seen()\n    del found['user_sitecustomize']  # only train's process runs the code dir's\n"
    "    return found\n"
)
EXPECTED = {"added": "pth", "hook": "ran", "child": "pth", "user_sitecustomize": "ran"}
EXPECTED_SERVED = {"added": "pth", "hook": "ran", "child": "pth"}


def _wheels(folder: Path) -> Path:
    extra = {"smtk_warm_pth.pth": PTH, "smtk_warm_pth_extra/smtk_pth_added.py": "VERSION = 'pth'\n"}
    write_wheel(folder, "smtk-warm-pth", "1.0", extra=extra)
    write_wheel(folder, "smtk-pth-added", "0.1")  # the image's own smtk_pth_added, which the warm env's must beat
    return folder


def _job(base: Path, wheels: Path, script: str, name: str) -> Path:
    write_job_tree(base, hyperparameters={"sagemaker_program": json.dumps(name)})
    code = base / "code"
    code.mkdir(exist_ok=True)
    (code / name).write_text(script)
    (code / "sitecustomize.py").write_text("import os\nos.environ['SMTK_USER_SITECUSTOMIZE'] = 'ran'\n")
    (code / "requirements.txt").write_text(f"--no-index\n--find-links {wheels}\nsmtk-warm-pth\n")
    (base / "model").mkdir(exist_ok=True)
    return base


def _container(path: Path, wheels: Path) -> Path:
    python = fresh_container(path)
    pip(python, "install", "--no-index", "--find-links", str(wheels), "smtk-pth-added==0.1")
    return python


def test_train_runs_the_warm_envs_pth_files_on_the_first_and_the_warm_start(tmp_path: Path) -> None:
    wheels = _wheels(tmp_path / "wheels")
    base = _job(tmp_path / "job", wheels, TRAIN, "train.py")
    warm = {CACHE_DIR_VARIABLE: str(tmp_path / "warmpool")}
    for start in ("install", "reuse"):
        result = launcher_train(_container(tmp_path / "image", wheels), base, warm)
        assert result.returncode == 0, result.stderr
        assert ("already installed on this warm instance" in result.stderr) == (start == "reuse")
        assert ".pth files are not run" not in result.stderr
        assert json.loads((base / "model" / "seen.json").read_text()) == EXPECTED, start


def test_serve_runs_the_warm_envs_pth_files_on_the_first_and_the_warm_start(tmp_path: Path) -> None:
    wheels = _wheels(tmp_path / "wheels")
    base = _job(tmp_path / "opt" / "ml", wheels, INFERENCE, "inference.py")
    for start in ("install", "reuse"):
        python, port = _container(tmp_path / "image", wheels), free_port()
        environ = server_env(base, port, {CACHE_DIR_VARIABLE: str(tmp_path / "warmpool")})
        environ.update(PYTHONPATH=venv_environ({})["PYTHONPATH"], PIP_NO_CACHE_DIR="1")
        log = (base / "server.log").open("w")
        server = Server(
            port,
            subprocess.Popen([str(python), "-m", "smtoolkit.serve"], env=environ, stdout=log, stderr=log),
            base,
            log,
        )
        try:
            wait_ready(server, timeout=120)
            reply = server.invoke(b"{}", "application/json")
            assert reply.status == 200 and reply.json() == EXPECTED_SERVED, (start, server.output())
            assert ("already installed on this warm instance" in server.output()) == (start == "reuse")
        finally:
            stop(server)


def test_the_hook_leaves_sys_path_without_itself(tmp_path: Path) -> None:
    environ = {**os.environ, "PYTHONPATH": os.pathsep.join([HOOK_DIR, str(SRC)]), SITE_DIRS_VARIABLE: str(tmp_path)}
    probe = "import sys, json; print(json.dumps(sys.path))"
    result = subprocess.run([sys.executable, "-c", probe], env=environ, capture_output=True, text=True, check=True)
    found = json.loads(result.stdout)
    assert HOOK_DIR not in found and found.index(str(tmp_path)) < found.index(str(SRC))
