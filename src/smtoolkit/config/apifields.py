"""Field names of an API request (CreateTrainingJob, CreateTransformJob...) checked against the models that
simulate it: a name the API has that is not simulated is listed for a warning; a name the API does not have (a
typo such as `SpltType`) is an error naming the closest valid name. Nested objects are checked the same way.

A model lists the API's names that it does not simulate in a class variable `API_ONLY`; its own fields are
known by their alias (else their name). A field validated elsewhere (typed Any) names the model that checks it in
`API_NESTED`. The raw request is walked, so a typo is named even when the validation
fails too (a misspelt required field).
"""

from __future__ import annotations

import typing
from collections.abc import Iterable
from typing import Any, TypeVar

from pydantic import BaseModel

from smtoolkit.config.files import validate
from smtoolkit.errors import ConfigError, Problem, did_you_mean

ModelT = TypeVar("ModelT", bound=BaseModel)


def _nested(annotation: Any) -> tuple[type[BaseModel] | None, bool]:
    """The model class inside `annotation` (`X`, `X | None`, `list[X]`) and whether it is a list of them."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation, False
    for argument in typing.get_args(annotation):
        found, _ = _nested(argument)
        if found is not None:
            return found, typing.get_origin(annotation) is list
    return None, False


def _entries(value: Any, many: bool, dotted: str) -> Iterable[tuple[str, Any]]:
    if many and isinstance(value, list):
        return ((f"{dotted}[{index}].", item) for index, item in enumerate(value))
    return [(f"{dotted}.", value)]


def check_fields(model: type[BaseModel], raw: Any, source: str, path: str = "") -> tuple[list[str], list[Problem]]:
    """(dotted names the API has but `model` does not simulate, a Problem per name the API does not have)."""
    if not isinstance(raw, dict):
        return [], []
    fields = {info.alias or name: info for name, info in model.model_fields.items()}
    api_only: frozenset[str] = getattr(model, "API_ONLY", frozenset())
    not_simulated: list[str] = []
    problems: list[Problem] = []
    for key, value in raw.items():
        dotted = f"{path}{key}"
        info = fields.get(key)
        if info is None:
            if key in api_only:
                not_simulated.append(dotted)
            else:
                suggestion = did_you_mean(str(key), [*fields, *api_only])
                problems.append(Problem(source, f"unknown field: the API has no such field{suggestion}", dotted))
            continue
        nested, many = _nested(getattr(model, "API_NESTED", {}).get(key, info.annotation))
        if nested is not None:
            for prefix, item in _entries(value, many, dotted):
                names, found = check_fields(nested, item, source, prefix)
                not_simulated += names
                problems += found
    return not_simulated, problems


def validate_request(model: type[ModelT], raw: Any, source: str) -> tuple[ModelT, list[str]]:
    """`raw` validated into `model`, and the names it has that are not simulated. ConfigError with every unknown
    name and every invalid field at once."""
    not_simulated, problems = check_fields(model, raw, source)
    try:
        value = validate(model, raw, source)
    except ConfigError as exc:
        raise ConfigError([*problems, *exc.problems]) from None
    if problems:
        raise ConfigError(problems)
    return value, not_simulated


def not_simulated_warning(source: str, names: list[str]) -> str:
    """The one wording of the warning for fields of the API that are not simulated here."""
    what = "is a field" if len(names) == 1 else "are fields"
    effect = "it has" if len(names) == 1 else "they have"
    return f"warning: {source}: {', '.join(names)} {what} of the API not simulated locally; {effect} no effect here"
