"""Install steps run supervised: success, a failure with the tail of stderr, a stop request, and switched off."""

from __future__ import annotations

import os
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from smtoolkit.config.launcher import LauncherSettings
from smtoolkit.errors import InstallError
from smtoolkit.usercode.deps import InstallStep
from smtoolkit.usercode.install import install_code_dependencies, run_install_step, run_install_steps

SETTINGS = LauncherSettings(grace_period_s=5)


def _step(code: str, tmp_path: Path, **env: str) -> InstallStep:
    return InstallStep("install something", (sys.executable, "-c", code), tmp_path, env)


def test_steps_run_in_order_with_their_environment(tmp_path: Path):
    write = "import os, pathlib; pathlib.Path('out').open('a').write(os.environ['WHICH'])"
    run_install_steps([_step(write, tmp_path, WHICH="a"), _step(write, tmp_path, WHICH="b")], SETTINGS, os.environ)
    assert (tmp_path / "out").read_text() == "ab"


def test_a_failing_step_is_an_install_error_with_its_stderr(tmp_path: Path):
    code = "import sys; sys.stderr.write('ERROR: no such package\\n'); sys.exit(3)"
    with pytest.raises(InstallError, match="install something failed with exit code 3:\nERROR: no such package"):
        run_install_step(_step(code, tmp_path), SETTINGS, os.environ)


def test_a_stop_request_during_a_step_is_an_install_error(tmp_path: Path):
    # The step asks its supervisor (this process) to stop, and ignores the forwarded SIGTERM itself.
    code = (
        "import os, signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        "os.kill(os.getppid(), signal.SIGTERM); time.sleep(0.3)"
    )
    with pytest.raises(InstallError, match="install something was stopped by SIGTERM"):
        run_install_step(_step(code, tmp_path), SETTINGS, os.environ)


def test_nothing_to_install_or_switched_off(tmp_path: Path):
    assert install_code_dependencies(tmp_path, SETTINGS, {}).steps == []
    (tmp_path / "requirements.txt").write_text("--no-index\nsmtk-missing-package==9.9\n")
    assert install_code_dependencies(tmp_path, LauncherSettings(install_requirements=False), {}).steps == []


def test_a_step_runs_from_a_thread_other_than_the_main_one(tmp_path: Path):
    # A multi-model load installs a model's requirements from a server's request thread, where no signal
    # handler can be installed: the step must still run, and fail as an InstallError with its stderr.
    write = "import pathlib; pathlib.Path('out').write_text('ran')"
    fail = "import sys; sys.stderr.write('ERROR: no such package\\n'); sys.exit(3)"
    with ThreadPoolExecutor(1) as pool:
        pool.submit(run_install_step, _step(write, tmp_path), SETTINGS, os.environ).result()
        failed = pool.submit(run_install_step, _step(fail, tmp_path), SETTINGS, os.environ)
        with pytest.raises(InstallError, match="exit code 3:\nERROR: no such package"):
            failed.result()
    assert (tmp_path / "out").read_text() == "ran"
