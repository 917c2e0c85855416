"""Hyperparameters: the AWS toolkit's decoding, reserved keys, argv conversion, and a typed base model."""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, ValidationError
from typing_extensions import Self

from smtoolkit.errors import ConfigError, Problem, did_you_mean

logger = logging.getLogger(__name__)

# Keys the platform and SDK reserve: removed from the user's hyperparameters *and* from the framework params.
RESERVED_HYPERPARAMETERS = frozenset(
    {
        "sagemaker_program",
        "sagemaker_submit_directory",
        "sagemaker_container_log_level",
        "sagemaker_job_name",
        "sagemaker_region",
        "sagemaker_enable_cloudwatch_metrics",
        "sagemaker_s3_output",
        "default_user_module_name",
        "_tuning_objective_metric",
    }
)
FRAMEWORK_PREFIX = "sagemaker_"

ArgvStyle = Literal["python", "json"]


def decode_value(raw: Any) -> Any:
    """JSON-decode one value, keeping it as it is when it isn't JSON (the AWS toolkit's rule)."""
    if not isinstance(raw, str | bytes | bytearray):
        return raw
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def decode_hyperparameters(raw: Mapping[str, Any]) -> dict[str, Any]:
    return {key: decode_value(value) for key, value in raw.items()}


def split_hyperparameters(
    decoded: Mapping[str, Any],
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """(user hyperparameters, framework params, reserved) from the decoded hyperparameters.json."""
    user: dict[str, Any] = {}
    framework: dict[str, Any] = {}
    reserved: dict[str, Any] = {}
    for key, value in decoded.items():
        if key in RESERVED_HYPERPARAMETERS:
            reserved[key] = value
        elif key.startswith(FRAMEWORK_PREFIX):
            framework[key] = value
        else:
            user[key] = value
    return user, framework, reserved


def _python_style(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bytes):
        return value.decode("latin1")
    if isinstance(value, dict):
        return ",".join(f"{k}={v}" for k, v in sorted(value.items()))
    return str(value)


def _json_style(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def to_cli_args(hyperparameters: Mapping[str, Any], style: ArgvStyle = "python") -> list[str]:
    """Hyperparameters as argv: sorted keys, `--key value` (`-k` for one-letter keys).

    "python" renders values exactly as sagemaker-training does (str(): True, [1, 2], dict as k=v,k2=v2);
    "json" renders non-strings as JSON (true, [1, 2], {"k": 1}), which argparse `type=json.loads` reads.
    """
    render = _python_style if style == "python" else _json_style
    args: list[str] = []
    for key in sorted(hyperparameters):
        args.append(f"--{key}" if len(key) > 1 else f"-{key}")
        args.append(render(hyperparameters[key]))
    return args


class Hyperparameters(BaseModel):
    """Base for a typed view of the job's hyperparameters.

    >>> class HP(Hyperparameters):
    ...     epochs: int = 10
    ...     lr: float
    >>> hp = HP.from_env()          # or HP.parse({"lr": "0.1"})

    Values arrive JSON-decoded (so "0.1" is already a float); the usual lax rules of pydantic then apply,
    e.g. "True", "false", "1", "yes" are accepted for bool fields. `learning-rate` sets the field
    `learning_rate` (as argparse maps dashes). Unknown hyperparameters are kept as extra attributes with a
    warning naming the closest field; set `model_config = ConfigDict(extra="forbid")` in a subclass to refuse
    them (a ConfigError), `extra="ignore"` to drop them without a word.
    """

    model_config: ClassVar[ConfigDict] = ConfigDict(extra="allow", frozen=True)

    @classmethod
    def parse(cls, values: Mapping[str, Any], source: str = "hyperparameters") -> Self:
        spelled = _by_field_name(cls, values, source)
        try:
            return cls.model_validate(spelled)
        except ValidationError as exc:
            raise ConfigError(_problems(exc, spelled, source)) from None

    @classmethod
    def from_env(cls) -> Self:
        from smtoolkit.config.training import current_env

        env = current_env()
        return cls.parse(env.hyperparameters, source=env.hyperparameters_source)


def _by_field_name(model: type[BaseModel], values: Mapping[str, Any], source: str) -> dict[str, Any]:
    """`values` with `a-b` spellings under the field `a_b`; unknown names warned about, or refused when the
    model forbids extras, each naming the closest field."""
    fields = {info.alias or name for name, info in model.model_fields.items()}
    spelled: dict[str, Any] = {}
    given_as: dict[str, str] = {}
    problems: list[Problem] = []
    unknown: list[Problem] = []
    for key, value in values.items():
        name = key if key in fields else key.replace("-", "_")
        if name not in fields:
            hint = did_you_mean(name, fields) or f" (fields: {', '.join(sorted(fields)) or 'none'})"
            unknown.append(Problem(source, f"not a field of {model.__name__}{hint}", f"hyperparameter {key!r}"))
            name = key
        elif name in given_as:
            problems.append(
                Problem(source, f"given twice, as {given_as[name]!r} and {key!r}", f"hyperparameter {name!r}")
            )
        given_as[name] = key
        spelled[name] = value
    extra = model.model_config.get("extra")
    if extra == "forbid":
        problems += unknown
    elif extra != "ignore":
        for problem in unknown:
            logger.warning("%s; kept as an extra attribute", problem)
    if problems:
        raise ConfigError(problems)
    return spelled


def _problems(exc: ValidationError, values: Mapping[str, Any], source: str) -> list[Problem]:
    problems = []
    for error in exc.errors(include_url=False):
        name = ".".join(str(part) for part in error["loc"]) or "(root)"
        top = error["loc"][0] if error["loc"] else None
        if error["type"] == "missing":
            message = "required hyperparameter is missing"
        else:
            value = values.get(str(top)) if top is not None else None
            message = f"value {value!r} is invalid: {error['msg']}"
        problems.append(Problem(source=source, field=f"hyperparameter {name!r}", message=message))
    return problems
