"""The one settings mechanism for environment variables (SMTOOLKIT_* and the SAGEMAKER_* serving ones).

Each field is declared once, typed, with its variable and default beside it: `env_field("SMTOOLKIT_X", 3.0,
ge=0, description=...)`. `from_environ` reads exactly those variables and validates them with pydantic, so a
zero stays zero, and a bad value is a ConfigError naming the variable, the value and what was expected.

Plain pydantic rather than pydantic-settings: pydantic-settings imports asyncio, about 30 ms on every `train`
start (measured: min of 15 runs), and these are flat string variables that need no more than this.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic_core import ErrorDetails
from typing_extensions import Self

from smtoolkit.errors import ConfigError, Problem, did_you_mean

log = logging.getLogger(__name__)

SOURCE = "environment"
# Marks a field whose empty value is a value (`SMTOOLKIT_SSHD_COMMAND=`), not "unset".
EMPTY_IS_A_VALUE = {"empty_is_a_value": True}


def env_field(variable: str, default: Any, **constraints: Any) -> Any:
    """A settings field read from `variable`; keyword arguments as pydantic's Field (ge, le, description...)."""
    return Field(default, validation_alias=variable, **constraints)


class EnvSettings(BaseModel):
    """Base of every settings class. Construct with field names in code and tests; `from_environ` reads the
    variables (an `env_field`'s, else `env_prefix` + the field's name in capitals)."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True, protected_namespaces=())

    # Whether an empty variable means "unset" (the default) rather than the empty string.
    empty_is_unset: ClassVar[bool] = True
    # For a field declared without env_field: its variable is this prefix and the field's name in capitals.
    env_prefix: ClassVar[str] = ""

    @classmethod
    def variables(cls) -> dict[str, str]:
        """field name -> the variable it is read from."""
        return {
            name: str(field.validation_alias) if field.validation_alias else cls.env_prefix + name.upper()
            for name, field in cls.model_fields.items()
        }

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Self:
        """The settings from `environ` (default os.environ; names matched case-insensitively) and `overrides`
        (by field name, winning); ConfigError naming each bad variable."""
        environ = os.environ if environ is None else environ
        by_name = {name.upper(): value for name, value in environ.items()}
        variables = cls.variables()
        values: dict[str, Any] = {}
        for name, variable in variables.items():
            raw = by_name.get(variable.upper())
            if raw is None or (cls._empty_means_unset(name) and not raw.strip()):
                continue
            values[variable if cls.model_fields[name].validation_alias else name] = raw
        values.update(overrides)
        try:
            return cls.model_validate(values)
        except ValidationError as exc:
            raise ConfigError([problem(error, variables) for error in exc.errors(include_url=False)]) from None

    @classmethod
    def _empty_means_unset(cls, name: str) -> bool:
        extra = cls.model_fields[name].json_schema_extra
        return cls.empty_is_unset and not (isinstance(extra, dict) and extra.get("empty_is_a_value"))


def problem(error: ErrorDetails, variables: Mapping[str, str]) -> Problem:
    """One pydantic error as a Problem naming the variable, the value given and what was expected."""
    reason = error.get("ctx", {}).get("error") or error["msg"]
    if not error["loc"]:
        return Problem(source=SOURCE, message=str(reason))
    name = str(error["loc"][0])
    message = f"got {error['input']!r}: {reason}"
    if error["type"] == "literal_error" and isinstance(error["input"], str):  # a typo of one of the choices
        message += did_you_mean(error["input"], re.findall(r"'([^']*)'", str(error.get("ctx", {}).get("expected"))))
    return Problem(source=SOURCE, field=variables.get(name, name), message=message)


def warn_unknown(
    environ: Mapping[str, str],
    prefix: str,
    known: Iterable[str],
    *,
    also_known: Iterable[str] = (),
    near_misses_only: bool = False,
) -> list[str]:
    """Log a warning for each `prefix` variable that is no setting (a typo), naming the closest valid one;
    returns the unknown names. Such a variable is otherwise ignored, which would hide the typo.

    `also_known`: names (or name prefixes ending in _) others read, never warned about nor suggested.
    `near_misses_only`: warn only when a known name is close (compared without `prefix`), for a prefix that
    others use too (SAGEMAKER_), where an unknown name is more likely theirs than a typo of ours."""
    valid = sorted(set(known))
    others = tuple(also_known)
    unknown = []
    for name in sorted(environ):
        if not name.startswith(prefix) or name in valid or name in others:
            continue
        if any(other.endswith("_") and name.startswith(other) for other in others):
            continue
        hint = did_you_mean(name, valid)
        if near_misses_only:
            suffixes = [choice.removeprefix(prefix) for choice in valid]
            hint = did_you_mean(name.removeprefix(prefix), suffixes).replace("mean ", f"mean {prefix}")
            if not hint:
                continue
        log.warning("%s is not a setting smtoolkit knows, so it is ignored%s", name, hint)
        unknown.append(name)
    return unknown
