"""The one settings mechanism: each variable declared once beside its field, zero stays zero, errors and typos
name the variable."""

from __future__ import annotations

import logging

import pytest

from smtoolkit.config.engine import EngineSettings
from smtoolkit.config.launcher import LauncherSettings, known_variables
from smtoolkit.errors import ConfigError


def test_zero_stays_zero_where_zero_is_valid() -> None:
    # Before: `_number(...) or default` turned 0 into 300 and 30.
    engine = EngineSettings.from_environ({"SMTOOLKIT_HOST_WAIT_S": "0", "SMTOOLKIT_EXIT_GRACE_S": "0"})
    assert (engine.host_wait_s, engine.exit_grace_s) == (0, 0)
    assert LauncherSettings.from_environ({"SMTOOLKIT_GRACE_PERIOD_S": "0"}).grace_period_s == 0


def test_defaults_empty_values_and_command_lines() -> None:
    engine = EngineSettings.from_environ({"SMTOOLKIT_BACKEND": " ", "SMTOOLKIT_SSH_OPTIONS": "-i 'my key'"})
    assert engine.backend is None and engine.host_wait_s == 300 and engine.ssh_port == 22
    assert engine.ssh_options == ("-i", "my key") and engine.sshd_command == ("/usr/sbin/sshd", "-D", "-e")
    assert EngineSettings.from_environ({"SMTOOLKIT_SSHD_COMMAND": ""}).sshd_command == ()
    launcher = LauncherSettings.from_environ({"SMTOOLKIT_INSTALL_REQUIREMENTS": "false", "CA_REPOSITORY_ARN": "arn"})
    assert not launcher.install_requirements and launcher.ca_repository_arn == "arn"
    assert launcher.grace_period_s == 110 and launcher.argv_style == "python"


@pytest.mark.parametrize(
    ("settings", "environ", "message"),
    [
        (
            LauncherSettings,
            {"SMTOOLKIT_GRACE_PERIOD_S": "-1"},
            "GRACE_PERIOD_S: got '-1': Input should be greater",
        ),
        (LauncherSettings, {"SMTOOLKIT_ARGV_STYLE": "yaml"}, "got 'yaml': Input should be 'python' or 'json'$"),
        (LauncherSettings, {"SMTOOLKIT_ARGV_STYLE": "jsn"}, r"'python' or 'json' \(did you mean json\?\)"),
        (EngineSettings, {"SMTOOLKIT_HOST_WAIT_S": "soon"}, "SMTOOLKIT_HOST_WAIT_S: got 'soon': Input should be a"),
        (EngineSettings, {"SMTOOLKIT_SSH_OPTIONS": "-i 'x"}, 'SMTOOLKIT_SSH_OPTIONS: got "-i \'x": expected a command'),
    ],
)
def test_a_bad_value_names_the_variable_and_what_was_expected(
    settings: type[LauncherSettings | EngineSettings], environ: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        settings.from_environ(environ)


def test_a_mistyped_variable_is_named_with_the_closest_valid_one(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="smtoolkit.config.settings"):
        LauncherSettings.from_environ({"SMTOOLKIT_GRACE_PERIOD": "5", "SMTOOLKIT_HOST_ADDRESSES": "{}"})
    assert caplog.messages == [
        "SMTOOLKIT_GRACE_PERIOD is not a setting smtoolkit knows, so it is ignored "
        "(did you mean SMTOOLKIT_GRACE_PERIOD_S?)"
    ]


def test_every_variable_is_declared_once() -> None:
    names = known_variables()
    assert len(names) == len(set(names)) and "SMTOOLKIT_EFA_INSTANCES" in names
    assert "CA_REPOSITORY_ARN" not in names  # not ours to check for typos


@pytest.mark.parametrize("spelling", ["MultiRecord", "MULTI_RECORD", " multi_record ", "multirecord"])
def test_one_normaliser_for_both_batch_strategy_spellings(spelling: str) -> None:
    from smtoolkit.config.batch import parse_batch_strategy, variable_spelling
    from smtoolkit.config.serving import load_serving_settings
    from smtoolkit.transform.request import normalise_strategy

    assert parse_batch_strategy(spelling) == normalise_strategy(spelling) == "MultiRecord"
    assert load_serving_settings(batch_strategy=spelling).batch_strategy == variable_spelling("MultiRecord")
