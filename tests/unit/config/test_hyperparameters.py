import json
import math
from pathlib import Path
from typing import Any

import pytest
from pydantic import ConfigDict

from smtoolkit import Hyperparameters
from smtoolkit.config.hyperparameters import (
    decode_value,
    split_hyperparameters,
    to_cli_args,
)
from smtoolkit.errors import ConfigError

GOLDEN = Path(__file__).parents[2] / "data" / "golden"


@pytest.mark.parametrize(
    ("raw", "decoded"),
    [
        ('"256"', "256"),
        ("256", 256),
        ("true", True),
        ("True", "True"),
        ("null", None),
        ("001", "001"),
        ("1e3", 1000.0),
        ("1.10", 1.1),
        ('["x", 1]', ["x", 1]),
        ("abc def", "abc def"),
        ("", ""),
        (10, 10),
    ],
)
def test_values_decode_as_sagemaker_training_does(raw: Any, decoded: Any) -> None:
    assert decode_value(raw) == decoded


def test_nan_decodes_to_float_nan() -> None:
    assert math.isnan(decode_value("NaN"))


def test_reserved_keys_leave_both_user_and_framework_params() -> None:
    user, framework, reserved = split_hyperparameters(
        {
            "lr": 0.1,
            "sagemaker_program": "t.py",
            "sagemaker_mpi_enabled": True,
            "_tuning_objective_metric": "x",
        }
    )
    assert user == {"lr": 0.1}
    assert framework == {"sagemaker_mpi_enabled": True}
    assert reserved == {"sagemaker_program": "t.py", "_tuning_objective_metric": "x"}


def test_cli_args_match_sagemaker_training_byte_for_byte() -> None:
    golden = json.loads((GOLDEN / "full.json").read_text())
    hps = json.loads(golden["SM_HPS"])
    assert to_cli_args(hps) == golden["__user_args__"]


def test_json_style_cli_args() -> None:
    args = to_cli_args({"flag": False, "layers": [1, 2], "opt": {"b": 1}, "name": "a b", "n": None}, "json")
    assert args == [
        "--flag",
        "false",
        "--layers",
        "[1, 2]",
        "-n",
        "null",
        "--name",
        "a b",
        "--opt",
        '{"b": 1}',
    ]


def test_one_letter_keys_are_short_options() -> None:
    assert to_cli_args({"x": 1, "xy": 2}) == ["-x", "1", "--xy", "2"]


class HP(Hyperparameters):
    epochs: int = 10
    lr: float
    use_amp: bool = False


@pytest.mark.parametrize("flag", ["True", "true", "1", "yes", True])
def test_typed_bools_accept_common_spellings(flag: Any) -> None:
    assert HP.parse({"lr": 0.1, "use_amp": flag}).use_amp is True


def test_typed_hyperparameters_validate_and_keep_extras(caplog: pytest.LogCaptureFixture) -> None:
    hp = HP.parse({"lr": "0.5", "epochs": "3", "extra": "kept"})
    assert (hp.lr, hp.epochs, hp.model_extra) == (0.5, 3, {"extra": "kept"})
    assert "hyperparameter 'extra': not a field of HP (fields: epochs, lr, use_amp); kept as an extra" in caplog.text


def test_dashes_set_the_field_and_typos_name_the_closest(caplog: pytest.LogCaptureFixture) -> None:
    hp = HP.parse({"lr": 0.1, "use-amp": "true", "epoch": 50}, source="hyperparameters.json")
    assert hp.use_amp is True and hp.epochs == 10
    assert "hyperparameters.json: hyperparameter 'epoch': not a field of HP (did you mean epochs?)" in caplog.text
    with pytest.raises(ConfigError, match="'use_amp': given twice, as 'use_amp' and 'use-amp'"):
        HP.parse({"lr": 0.1, "use_amp": True, "use-amp": False})

    class Quiet(HP):
        model_config = ConfigDict(extra="ignore", frozen=True)

    caplog.clear()
    assert Quiet.parse({"lr": 1, "epoch": 2}).epochs == 10 and not caplog.text


def test_typed_errors_name_hyperparameter_value_and_type() -> None:
    with pytest.raises(ConfigError) as info:
        HP.parse({"epochs": "ten"}, source="hyperparameters.json")
    text = str(info.value)
    assert "hyperparameters.json: hyperparameter 'epochs': value 'ten' is invalid" in text
    assert "integer" in text
    assert "hyperparameter 'lr': required hyperparameter is missing" in text


def test_subclass_can_forbid_unknown_hyperparameters() -> None:
    class Strict(HP):
        model_config = ConfigDict(extra="forbid", frozen=True)

    with pytest.raises(ConfigError, match="hyperparameter 'epoch': not a field of Strict \\(did you mean epochs\\?\\)"):
        Strict.parse({"lr": 1, "epoch": 2})


def test_from_env_reads_the_job(job_tree: Any) -> None:
    job_tree(hyperparameters={"lr": "0.25", "epochs": '"7"'})
    hp = HP.from_env()
    assert (hp.lr, hp.epochs) == (0.25, 7)
