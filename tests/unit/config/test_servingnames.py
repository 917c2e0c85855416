"""A mistyped SAGEMAKER_* serving setting is warned about; the platform's own SAGEMAKER_* variables are not."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest

from smtoolkit.config.servingnames import OTHERS_VARIABLES, check_serving_names, serving_variables

SRC = Path(__file__).parents[3] / "src" / "smtoolkit"


@pytest.mark.parametrize(
    ("typo", "meant"),
    [
        ("SAGEMAKER_MODEL_SERVER_TIMOUT", "SAGEMAKER_MODEL_SERVER_TIMEOUT"),
        ("SAGEMAKER_MODEL_SERVER_WORKER", "SAGEMAKER_MODEL_SERVER_WORKERS"),
        ("SAGEMAKER_MAX_PAYLOAD_IN_MBS", "SAGEMAKER_MAX_PAYLOAD_IN_MB"),
        ("SAGEMAKER_BIND_TO_PROT", "SAGEMAKER_BIND_TO_PORT"),
    ],
)
def test_a_near_miss_of_a_serving_setting_is_warned_naming_it(typo: str, meant: str, caplog):
    with caplog.at_level(logging.WARNING):
        assert check_serving_names({typo: "5", meant.replace("SAGEMAKER", "SM"): "x"}) == [typo]
    assert f"{typo} is not a setting smtoolkit knows, so it is ignored (did you mean {meant}?)" in caplog.text


def test_every_sagemaker_variable_smtoolkit_reads_is_known():
    sources = [path for path in SRC.rglob("*.py") if path.name != "servingnames.py"]  # it names a typo
    read = {name for path in sources for name in re.findall(r"SAGEMAKER_[A-Z0-9_]*[A-Z0-9]", path.read_text())}
    assert read - set(serving_variables()) - set(OTHERS_VARIABLES) == set()


def test_the_platforms_own_variables_are_not_warned_about(caplog):
    platform = {
        **dict.fromkeys(serving_variables(), "1"),
        **{name + ("OUTPUT" if name.endswith("_") else ""): "1" for name in OTHERS_VARIABLES},
        "SAGEMAKER_INFERENCE_ENSEMBLE": "true",
        "SAGEMAKER_MMS_LOAD_MODELS": "",
        "SAGEMAKER_ENDPOINT_NAME": "e",  # not documented, not close to a setting: the platform's, maybe
    }
    with caplog.at_level(logging.WARNING):
        assert check_serving_names(platform) == []
    assert caplog.text == ""
