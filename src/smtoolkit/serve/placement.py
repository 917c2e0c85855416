"""Where the async worker runs a route's calls: in its thread pool, or on the event loop once proven fast.

Handing a call to a thread and back costs more than a small model's whole predict (tens of microseconds, more
on a loaded machine), so a route whose last FAST_STREAK calls each took under FAST_S runs inline. An inline call
that takes over SLOW_S sends the route back to the pool, for good after GIVE_UP such calls. The cost, bounded:
a call that turns slow delays the worker's other connections (and /ping) once, by its own length.
SAGEMAKER_MODEL_SERVER_INLINE_CALLS=false keeps every call in the pool.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

FAST_S = 0.0005
SLOW_S = 0.002
FAST_STREAK = 200
GIVE_UP = 3


class Placement:
    """Per route: `inline` says where the next call runs; `timed` runs one and learns from its length."""

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled
        self.inline = False
        self.streak = 0
        self.slow_inline_calls = 0

    def timed(self, function: Callable[[], T], inline: bool) -> T:
        started = time.perf_counter()
        try:
            return function()
        finally:
            self.learn(time.perf_counter() - started, inline)

    def learn(self, seconds: float, inline: bool) -> None:
        if inline:
            if seconds > SLOW_S:
                self.inline, self.streak = False, 0
                self.slow_inline_calls += 1
            return
        self.streak = self.streak + 1 if seconds < FAST_S else 0
        if self.enabled and self.streak >= FAST_STREAK and self.slow_inline_calls < GIVE_UP:
            self.inline = True
