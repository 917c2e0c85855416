"""`KEY=VALUE` flags (`-e`, `-H`, `--metric`, a `--channel`'s options): parsed, each key given once."""

from __future__ import annotations

from collections.abc import Sequence

from smtoolkit.errors import ConfigError


def split_pair(text: str, flag: str) -> tuple[str, str]:
    """`KEY=VALUE` -> (KEY, VALUE); ConfigError naming the flag otherwise."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError.single(flag, f"expected KEY=VALUE, got {text!r}")
    return key.strip(), value


def unique_pairs(texts: Sequence[str], flag: str) -> dict[str, str]:
    """Each `KEY=VALUE` of a repeatable flag; ConfigError naming the flag and key when a key is given twice
    (the last one would silently win)."""
    pairs: dict[str, str] = {}
    for text in texts:
        key, value = split_pair(text, flag)
        refuse_repeated(key, key in pairs, flag)
        pairs[key] = value
    return pairs


def refuse_repeated(key: str, repeated: bool, flag: str) -> None:
    if repeated:
        raise ConfigError.single(flag, f"{key} is given more than once; give each {key} once")
