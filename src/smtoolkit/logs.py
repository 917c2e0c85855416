"""Logging for the toolkit's own processes: one configuration point and a filter that masks secrets."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from smtoolkit.levels import parse_log_level

SECRET_KEY_PATTERN = re.compile(r"SECRET|PASSWORD|PASSWD|TOKEN|KEY|CREDENTIAL|PRIVATE|CREDS", re.IGNORECASE)
MASK = "******"
LOG_FORMAT = "%(asctime)s %(name)s %(levelname)s %(message)s"
_HANDLER_NAME = "smtoolkit"
__all__ = [
    "SecretMaskingFilter",
    "configure_logging",
    "is_secret_key",
    "mask_argv",
    "mask_text",
    "masked",
    "parse_log_level",
    "set_level",
]

# KEY=value and "key": "value" pairs whose key looks secret, wherever they appear in a message.
_SECRET_NAME = rf"[\w.-]*(?:{SECRET_KEY_PATTERN.pattern})[\w.-]*"
_ASSIGNMENT = re.compile(rf"(?P<key>\b{_SECRET_NAME})(?P<sep>=)(?P<value>\S+)", re.I)
_JSON_PAIR = re.compile(rf'(?P<key>"{_SECRET_NAME}")(?P<sep>\s*:\s*)(?P<value>"(?:[^"\\]|\\.)*"|[^,}}\s]+)', re.I)
# Values no secret can have: switches such as ssh's `-o StrictHostKeyChecking=no` stay readable.
_PLAIN_VALUES = frozenset({"yes", "no", "true", "false", "on", "off", "ask", "accept-new", "none", "null"})


def is_secret_key(key: str) -> bool:
    return bool(SECRET_KEY_PATTERN.search(key))


def masked(mapping: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of `mapping` with the values of secret-looking keys replaced, recursively."""
    return {
        key: MASK if is_secret_key(key) else masked(value) if isinstance(value, Mapping) else value
        for key, value in mapping.items()
    }


def mask_argv(argv: Sequence[str]) -> list[str]:
    """argv with the value after a secret-looking option (`--api_token VALUE`) masked, and KEY=value pairs."""
    masked_argv: list[str] = []
    hide_next = False
    for arg in argv:
        masked_argv.append(MASK if hide_next else mask_text(arg))
        hide_next = arg.startswith("-") and "=" not in arg and is_secret_key(arg.lstrip("-"))
    return masked_argv


def mask_text(text: str) -> str:
    text = _ASSIGNMENT.sub(lambda m: m[0] if _is_plain(m["value"]) else f"{m['key']}{m['sep']}{MASK}", text)
    return _JSON_PAIR.sub(lambda m: m[0] if _is_plain(m["value"]) else f'{m["key"]}{m["sep"]}"{MASK}"', text)


def _is_plain(value: str) -> bool:
    return value.strip('"').lower() in _PLAIN_VALUES


class SecretMaskingFilter(logging.Filter):
    """Masks secret-looking KEY=value and "key": value pairs in every record that passes the handler."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = mask_text(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def configure_logging(level: int | str = logging.INFO) -> None:
    """Configure the root logger: the composition root (smtoolkit.entry) calls it once per process; calling
    again only changes the level."""
    set_level(level)
    root = logging.getLogger()
    if any(handler.get_name() == _HANDLER_NAME for handler in root.handlers):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    handler.addFilter(SecretMaskingFilter())
    root.addHandler(handler)


def set_level(level: int | str) -> None:
    """The level of the toolkit's log once the job says it (SAGEMAKER_CONTAINER_LOG_LEVEL and friends)."""
    root = logging.getLogger()
    root.setLevel(parse_log_level(level))
    for noisy in ("botocore", "boto3", "s3transfer", "urllib3"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
