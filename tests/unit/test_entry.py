"""run_command: where every command ends, by the one table of smtoolkit.errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from smtoolkit.entry import run_command, train_dry_run
from smtoolkit.errors import ConfigError


def _defect() -> int:
    raise TypeError("a defect of ours")


def test_an_internal_error_exits_70_with_its_traceback_and_failure_file(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    failure = tmp_path / "failure"
    with pytest.raises(SystemExit) as ended:
        run_command(_defect, failure)
    assert ended.value.code == 70
    assert failure.read_text() == "InternalError (TypeError): a defect of ours"
    assert "internal error (please report it)" in caplog.text and "Traceback" in caplog.text


def test_the_body_exit_code_ends_the_command() -> None:
    with pytest.raises(SystemExit) as ended:
        run_command(lambda: 5)
    assert ended.value.code == 5


def test_train_options() -> None:
    assert train_dry_run(["--dry-run"]) is True and train_dry_run(["ignored"]) is False
    with pytest.raises(ConfigError, match=r"no such option: --dry_run \(did you mean --dry-run\?\)"):
        train_dry_run(["--dry_run"])


def test_serve_options_without_click() -> None:
    """`serve` (as the platform runs it) and `serve --dry-run` take the same path; a typo names the option."""
    from smtoolkit.serve.execute import serve_dry_run

    assert serve_dry_run([]) is False and serve_dry_run(["serve"]) is False
    assert serve_dry_run(["serve", "--dry-run"]) is True
    with pytest.raises(ConfigError, match=r"got --dryrun \(did you mean --dry-run\?\)"):
        serve_dry_run(["--dryrun"])
    with pytest.raises(ConfigError, match="got extra"):
        serve_dry_run(["--dry-run", "extra"])
