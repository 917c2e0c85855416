"""Log levels in every spelling users and the SDK write them, without importing `logging`."""

from __future__ import annotations

from typing import Any

LEVELS = {
    "CRITICAL": 50,
    "FATAL": 50,
    "ERROR": 40,
    "WARNING": 30,
    "WARN": 30,
    "INFO": 20,
    "DEBUG": 10,
    "NOTSET": 0,
}


def parse_log_level(value: Any) -> int:
    """A log level from 20, "20", '"20"', "INFO" or "info"; ValueError naming the value otherwise."""
    if isinstance(value, bool):
        raise ValueError(f"not a log level: {value!r}")
    if isinstance(value, int):
        return value
    text = str(value).strip().strip('"').strip()
    if text.lstrip("-").isdigit():
        return int(text)
    if text.upper() in LEVELS:
        return LEVELS[text.upper()]
    raise ValueError(f"not a log level: {value!r} (expected a number such as 20 or a name such as INFO)")
