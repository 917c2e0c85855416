"""Where the async worker runs a route's calls: in its thread pool, or on the event loop once proven fast.

Handing a call to a thread and back costs more than a small model's whole predict (tens of microseconds, more
on a loaded machine), so a route whose last FAST_STREAK calls each took under FAST_S runs inline. In the pool
"took" is the call's own CPU time, with its wall time under POOL_WALL_S: a pool thread's wall time also counts
its waits for the GIL (up to the 5 ms switch interval each while the loop and other threads run), which would
keep a fast route in the pool exactly when the worker is busiest. An inline call
that takes over SLOW_S sends the route back to the pool, and each such call doubles the streak it must show
again (and FORGIVE inline calls in a row that were not halve it), so a route that is often slow settles in the
pool. "Takes" counts the call's own CPU time and any wait
it chose (I/O, sleep: a voluntary context switch), not the time another process held the CPU, so the noise of a
loaded machine does not send a fast route back.
The cost, bounded: a call that turns slow delays the worker's other connections (and /ping) by its own length.
SAGEMAKER_MODEL_SERVER_INLINE_CALLS=false keeps every call in the pool.
"""

from __future__ import annotations

import resource
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

FAST_S = 0.0005
SLOW_S = 0.005  # above a loaded machine's usual scheduling hiccups, so that noise alone rarely sends a route back
FAST_STREAK = 200
POOL_WALL_S = 0.05  # a pool call over this, however little CPU it used, waited by choice: it is slow
FORGIVE = 10_000


class Placement:
    """Per route: `inline` says where the next call runs; `timed` runs one and learns from its length."""

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled
        self.inline = False
        self.streak = 0
        self.slow_inline_calls = 0
        self.quiet_inline_calls = 0

    def timed(self, function: Callable[[], T], inline: bool) -> T:
        if not inline:
            return self._timed_in_pool(function)
        usage = resource.getrusage(resource.RUSAGE_THREAD)
        started = time.perf_counter()
        try:
            return function()
        finally:
            seconds = time.perf_counter() - started
            if seconds > SLOW_S and not _blocked(usage, seconds):
                seconds = 0.0  # preempted by another process: not the call's doing
            self.learn(seconds, inline)

    def _timed_in_pool(self, function: Callable[[], T]) -> T:
        started, cpu_started = time.perf_counter(), time.thread_time()
        try:
            return function()
        finally:
            cpu = time.thread_time() - cpu_started
            self.learn(cpu if time.perf_counter() - started < POOL_WALL_S else POOL_WALL_S, inline=False)

    def learn(self, seconds: float, inline: bool) -> None:
        if inline:
            if seconds > SLOW_S:
                self.inline, self.streak, self.quiet_inline_calls = False, 0, 0
                self.slow_inline_calls += 1
            else:
                self.quiet_inline_calls += 1
                if self.quiet_inline_calls >= FORGIVE:
                    self.slow_inline_calls, self.quiet_inline_calls = max(0, self.slow_inline_calls - 1), 0
            return
        self.streak = self.streak + 1 if seconds < FAST_S else 0
        if self.enabled and self.streak >= FAST_STREAK << min(self.slow_inline_calls, 20):
            self.inline = True


def _blocked(before: resource.struct_rusage, seconds: float) -> bool:
    """Whether this thread spent `seconds` computing or waiting by choice since `before` (else: preempted)."""
    after = resource.getrusage(resource.RUSAGE_THREAD)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return after.ru_nvcsw > before.ru_nvcsw or cpu > seconds / 2
