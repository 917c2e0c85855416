"""Hyperparameters: the AWS toolkit's decoding, reserved keys, argv conversion, and a typed base model."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, ValidationError
from typing_extensions import Self

from smtoolkit.errors import ConfigError, Problem

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
    e.g. "True", "false", "1", "yes" are accepted for bool fields. Unknown hyperparameters are kept as extra
    attributes; set `model_config = ConfigDict(extra="forbid")` in a subclass to refuse them.
    """

    model_config: ClassVar[ConfigDict] = ConfigDict(extra="allow", frozen=True)

    @classmethod
    def parse(cls, values: Mapping[str, Any], source: str = "hyperparameters") -> Self:
        try:
            return cls.model_validate(dict(values))
        except ValidationError as exc:
            raise ConfigError(_problems(exc, values, source)) from None

    @classmethod
    def from_env(cls) -> Self:
        from smtoolkit.config.training import current_env

        env = current_env()
        return cls.parse(env.hyperparameters, source=env.hyperparameters_source)


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
