import logging
from collections.abc import Iterator
from typing import Any

import pytest

from smtoolkit.logs import MASK, configure_logging, mask_text, masked, parse_log_level


@pytest.mark.parametrize("value", [20, "20", '"20"', "INFO", "info", " info "])
def test_log_levels_in_every_spelling(value: Any) -> None:
    assert parse_log_level(value) == logging.INFO


@pytest.mark.parametrize("value", ["LOUD", True, "", "2O"])
def test_bad_log_levels_name_the_value(value: Any) -> None:
    with pytest.raises(ValueError, match="not a log level"):
        parse_log_level(value)


@pytest.fixture
def clean_root() -> Iterator[logging.Logger]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    # Start without the toolkit's handler: one made by an earlier test writes to that test's stderr.
    root.handlers[:] = [h for h in handlers if h.get_name() != "smtoolkit"]
    yield root
    root.handlers[:] = handlers
    root.setLevel(level)


def test_configure_logging_is_idempotent(clean_root: logging.Logger) -> None:
    configure_logging("INFO")
    configure_logging(10)
    ours = [h for h in clean_root.handlers if h.get_name() == "smtoolkit"]
    assert len(ours) == 1
    assert clean_root.level == logging.DEBUG


def test_masking_of_secret_keys() -> None:
    data = {"lr": 0.1, "api_token": "t", "nested": {"db_password": "p", "n": 1}, "AWS_SECRET_ACCESS_KEY": "s"}
    assert masked(data) == {
        "lr": 0.1,
        "api_token": MASK,
        "nested": {"db_password": MASK, "n": 1},
        "AWS_SECRET_ACCESS_KEY": MASK,
    }
    text = mask_text('AWS_SECRET_ACCESS_KEY=abc lr=0.1 {"github_token": "x\\"y", "private": 5, "epochs": 3}')
    assert "abc" not in text and 'x\\"y' not in text and ": 5" not in text
    assert "lr=0.1" in text and '"epochs": 3' in text


def test_the_handler_masks_records(clean_root: logging.Logger, capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO")
    logging.getLogger("smtoolkit.test").info("environment: %s", 'HF_TOKEN=hf_123 SM_HPS={"lr": 1}')
    err = capsys.readouterr().err
    assert "hf_123" not in err and "HF_TOKEN=******" in err


def test_switch_values_of_secret_looking_names_stay_readable() -> None:
    rsh = "-p 22 -i /root/.ssh/id -o StrictHostKeyChecking=no -o PubkeyAuthentication=yes"
    assert mask_text(rsh) == rsh
    assert mask_text('{"use_private_link": true, "api_key": "no-not-this"}') == (
        '{"use_private_link": true, "api_key": "******"}'
    )
    assert mask_text("HostKeyAlgorithms=ssh-ed25519 DB_PASSWORD=yes2") == "HostKeyAlgorithms=****** DB_PASSWORD=******"
