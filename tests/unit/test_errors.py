"""did_you_mean, and the one table by which every command ends on an error."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import smtoolkit
from smtoolkit.errors import (
    ConfigError,
    EntryPointError,
    InstallError,
    UserScriptError,
    did_you_mean,
    exit_code_of,
    exit_on,
    failure_text,
)


def test_names_the_closest_choice() -> None:
    assert did_you_mean("SpltType", ["SplitType", "AssembleWith", "ContentType"]) == " (did you mean SplitType?)"


def test_says_nothing_when_no_choice_is_close() -> None:
    assert did_you_mean("zzz", ["SplitType", "AssembleWith"]) == ""


def test_one_table_of_exit_codes() -> None:
    assert exit_code_of(ConfigError.single("settings", "bad", "SMTOOLKIT_X")) == 2
    assert exit_code_of(EntryPointError("no entry point")) == 2
    assert exit_code_of(InstallError("pip failed")) == 1
    assert exit_code_of(UserScriptError("failed", 137)) == 137
    assert exit_code_of(KeyboardInterrupt()) == 130
    assert exit_code_of(TypeError("a defect")) == 70
    assert failure_text(TypeError("a defect")) == "InternalError (TypeError): a defect"


def test_exit_on_writes_the_failure_file_unless_the_code_wrote_one(tmp_path: Path, capsys: Any) -> None:
    failure = tmp_path / "output" / "failure"
    with pytest.raises(SystemExit) as ended:
        exit_on(ConfigError.single("hyperparameters.json", "not JSON", "lr"), failure, max_bytes=20)
    assert ended.value.code == 2 and failure.read_text() == "ConfigError: hyperpa"
    assert capsys.readouterr().err == "error: hyperparameters.json: lr: not JSON\n"
    failure.write_text("the code's own reason")
    with pytest.raises(SystemExit):
        exit_on(InstallError("pip failed"), failure)
    assert failure.read_text() == "the code's own reason"


def test_logging_is_configured_only_at_the_composition_root() -> None:
    calls = [
        path.name
        for path in Path(smtoolkit.__file__).parent.rglob("*.py")
        if "configure_logging(" in path.read_text() and path.name != "logs.py"
    ]
    assert calls == ["entry.py"]
