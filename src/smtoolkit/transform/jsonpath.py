"""The JSONPath subset of DataProcessing (InputFilter, OutputFilter), as the developer guide documents it:

    $             the root (required first)          $
    .name         a child                            $.id
    *  .*  [*]    every child                        $.id.*
    ['a','b']     children, as an object             $['id','SageMakerOutput']  (also $.field1.['a','b'])
    [n(,n)]       index(es), negative from the end   $[1]  $[1,3,5]  $[-1]
    [s:e]         slice; indexes and slices mix      $[2:5]  $[:5]  $[2:]  $[0,5:]

One name or one index selects a value; anything else selects a list (names: an object). Steps after a
list-selecting step apply to each element. The end of a slice is inclusive by default, as the guide says
("`$[1:4]` specifies the second through fifth columns"); `inclusive_end=False` gives Python's (and
Jayway's) exclusive end. An index or slice bound outside the array is an error, as the API says.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from smtoolkit.errors import SmtoolkitError


class JsonPathError(SmtoolkitError):
    """A path outside the supported subset, or one that does not match a record."""


@dataclass(frozen=True)
class Slice:
    start: int | None
    end: int | None


@dataclass(frozen=True)
class Step:
    kind: str  # "name", "names", "wildcard", "indexes"
    names: tuple[str, ...] = ()
    items: tuple[int | Slice, ...] = ()

    @property
    def selects_many(self) -> bool:
        return self.kind != "name" and not (
            self.kind == "indexes" and len(self.items) == 1 and isinstance(self.items[0], int)
        )


_TOKEN = re.compile(r"\.(?P<name>[A-Za-z_][\w-]*)|\.?\*|\.?\[(?P<bracket>[^\]]*)\]")
_QUOTED = re.compile(r"\s*'([^']*)'\s*$")
_INDEX = re.compile(r"\s*(-?\d+)\s*$")
_SLICE = re.compile(r"\s*(-?\d+)?\s*:\s*(-?\d+)?\s*$")


def _bracket(text: str, path: str) -> Step:
    if text.strip() == "*":
        return Step("wildcard")
    parts = text.split(",")
    quoted = [_QUOTED.match(part) for part in parts]
    if all(quoted):
        names = tuple(match.group(1) for match in quoted if match)
        if any("." in name for name in names) and len(names) > 1:
            raise JsonPathError(f"{path}: nested names inside a multi-name bracket are not supported")
        return Step("name", names) if len(names) == 1 else Step("names", names)
    items: list[int | Slice] = []
    for part in parts:
        if index := _INDEX.match(part):
            items.append(int(index.group(1)))
        elif bounds := _SLICE.match(part):
            start, end = bounds.groups()
            items.append(Slice(None if start is None else int(start), None if end is None else int(end)))
        else:
            raise JsonPathError(f"{path}: unsupported bracket [{text}]; expected names, indexes or slices")
    return Step("indexes", items=tuple(items))


def parse(path: str) -> tuple[Step, ...]:
    """The steps of a path; JsonPathError naming the path when it is not in the subset."""
    if not path.startswith("$"):
        raise JsonPathError(f"{path!r}: a path starts with $")
    steps, position = [], 1
    while position < len(path):
        match = _TOKEN.match(path, position)
        if not match:
            raise JsonPathError(f"{path!r}: unsupported syntax at character {position + 1}")
        if match.group("name") is not None:
            steps.append(Step("name", (match.group("name"),)))
        elif match.group("bracket") is not None:
            steps.append(_bracket(match.group("bracket"), path))
        else:
            steps.append(Step("wildcard"))
        position = match.end()
    return tuple(steps)


def _index(values: list[Any], index: int, path: str) -> int:
    if not -len(values) <= index < len(values):
        raise JsonPathError(f"{path}: index {index} is outside an array of {len(values)}")
    return index % len(values)


def _slice(values: list[Any], bounds: Slice, inclusive_end: bool, path: str) -> list[Any]:
    start = 0 if bounds.start is None else _index(values, bounds.start, path)
    if bounds.end is None:
        return values[start:]
    if inclusive_end:
        return values[start : _index(values, bounds.end, path) + 1]
    if not -len(values) <= bounds.end <= len(values):
        raise JsonPathError(f"{path}: slice end {bounds.end} is outside an array of {len(values)}")
    return values[start : bounds.end]


def _apply(step: Step, value: Any, inclusive_end: bool, path: str) -> Any:
    if step.kind in ("name", "names"):
        if not isinstance(value, dict):
            raise JsonPathError(f"{path}: expected an object for {list(step.names)}, got {type(value).__name__}")
        missing = [name for name in step.names if name not in value]
        if missing:
            raise JsonPathError(f"{path}: no attribute {missing[0]!r} in the record")
        return value[step.names[0]] if step.kind == "name" else {name: value[name] for name in step.names}
    if step.kind == "wildcard":
        if isinstance(value, dict):
            return list(value.values())
        if isinstance(value, list):
            return list(value)
        raise JsonPathError(f"{path}: * needs an object or an array, got {type(value).__name__}")
    if not isinstance(value, list):
        raise JsonPathError(f"{path}: expected an array, got {type(value).__name__}")
    if not step.selects_many:
        return value[_index(value, int(step.items[0]), path)]  # type: ignore[arg-type]
    selected: list[Any] = []
    for item in step.items:
        if isinstance(item, Slice):
            selected.extend(_slice(value, item, inclusive_end, path))
        else:
            selected.append(value[_index(value, item, path)])
    return selected


@dataclass(frozen=True)
class JsonPath:
    text: str
    steps: tuple[Step, ...]
    inclusive_end: bool = True

    @classmethod
    def compile(cls, text: str, inclusive_end: bool = True) -> JsonPath:
        return cls(text, parse(text), inclusive_end)

    @property
    def is_root(self) -> bool:
        return not self.steps

    def select(self, value: Any) -> Any:
        many = False
        for step in self.steps:
            if many:
                value = [_apply(step, element, self.inclusive_end, self.text) for element in value]
                if step.selects_many and step.kind != "names":
                    value = [inner for element in value for inner in element]
            else:
                value = _apply(step, value, self.inclusive_end, self.text)
                many = step.selects_many and step.kind != "names"
        return value
