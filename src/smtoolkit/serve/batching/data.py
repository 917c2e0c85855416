"""How the inputs of several requests become one batch, and how a batch's results go back to each request.

numpy arrays of one dtype are joined when their shapes allow: 2-D and higher arrays with the same trailing
shape are concatenated along the first axis (each request's rows, back to back) and the result is sliced by
each request's row count; 0-D and 1-D arrays of one shape are stacked, one row per request. Anything else is
handed over as a list, one item per request. A result whose length does not match the batch is the batch
function's fault: a 500 naming it.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from smtoolkit.errors import ServeError


@dataclass(frozen=True)
class Batch:
    """What the batch function gets, and the [start, stop) rows of its result that belong to each request."""

    data: Any
    bounds: tuple[tuple[int, int], ...]
    sliced: bool  # True: request i gets result[start:stop]; False: result[i]

    @property
    def expected_length(self) -> int:
        return self.bounds[-1][1] if self.bounds else 0


def _arrays(items: Sequence[Any]) -> list[Any] | None:
    """The items as numpy arrays of one dtype, or None (numpy is only looked at when a script imported it)."""
    numpy = sys.modules.get("numpy")
    if numpy is None or not all(isinstance(item, numpy.ndarray) for item in items):
        return None
    if len({item.dtype for item in items}) != 1:
        return None
    return list(items)


def combine(items: Sequence[Any]) -> Batch:
    """One batch of `items` (one per request, in order)."""
    arrays = _arrays(items)
    if arrays is not None and len(items) > 0:
        import numpy

        if all(a.ndim >= 2 for a in arrays) and len({a.shape[1:] for a in arrays}) == 1:
            bounds, start = [], 0
            for a in arrays:
                bounds.append((start, start + a.shape[0]))
                start += a.shape[0]
            return Batch(numpy.concatenate(arrays), tuple(bounds), sliced=True)
        if all(a.ndim <= 1 for a in arrays) and len({a.shape for a in arrays}) == 1:
            return Batch(numpy.stack(arrays), tuple((i, i + 1) for i in range(len(arrays))), sliced=False)
    return Batch(list(items), tuple((i, i + 1) for i in range(len(items))), sliced=False)


def split(batch: Batch, result: Any, function: str) -> list[Any]:
    """Each request's share of `result`, in order; a 500 naming `function` when the count is wrong."""
    try:
        length = len(result)
    except TypeError:
        raise ServeError(
            f"{function} returned a {type(result).__name__}; expected a sequence with one result per "
            f"{'row' if batch.sliced else 'request'} ({batch.expected_length})"
        ) from None
    if length != batch.expected_length:
        unit = "rows" if batch.sliced else "requests"
        raise ServeError(f"{function} returned {length} results for a batch of {batch.expected_length} {unit}")
    if batch.sliced:
        return [result[start:stop] for start, stop in batch.bounds]
    return [result[start] for start, _ in batch.bounds]
