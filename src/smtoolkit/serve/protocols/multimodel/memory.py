"""The memory budget of a multi-model endpoint, and what loading a model really costs.

A load costs the resident memory (RSS) it added to the process that ran it. Each worker that serves a
model holds its own copy (models load after the fork, so nothing is shared), so a model counts its cost
times the number of workers: the budget is never promised to copies that could not all fit. What is
committed is that, summed over the loaded models, plus the server's own processes as measured in the master
before the fork. The budget defaults to the container's memory (cgroup limit, else the machine's) less a
margin.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import functools
import gc
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from smtoolkit import hardware
from smtoolkit.config.multimodel import MultiModelSettings
from smtoolkit.errors import InsufficientStorage

MEBIBYTE = 1024 * 1024


def process_rss() -> int:
    """This process's resident memory in bytes."""
    import psutil

    return int(psutil.Process().memory_info().rss)


def server_baseline(workers: int) -> int:
    """What the server's processes hold before any model: the master's RSS (endpoint code imported) for it
    and each worker. Measured in the master before the fork."""
    return process_rss() * (workers + 1)


def budget_bytes(settings: MultiModelSettings, container_bytes: int | None = None) -> int:
    """Bytes the server may hold, its own processes and every copy of every model: the setting, else the
    container's memory (`container_bytes`, default the cgroup limit or the machine's memory) less the margin."""
    if settings.mme_memory_budget_mb is not None:
        return settings.mme_memory_budget_mb * MEBIBYTE
    container = hardware.memory_limit() if container_bytes is None else container_bytes
    return int(container * (1 - settings.mme_memory_margin_percent / 100))


@dataclass
class Measured:
    bytes: int = 0


@contextlib.contextmanager
def measured() -> Iterator[Measured]:
    """How much this process's RSS grew over the block (never below zero: other threads may free meanwhile)."""
    before, result = process_rss(), Measured()
    yield result
    result.bytes = max(0, process_rss() - before)


def check_fits(committed: int, cost: int, budget: int, name: str) -> None:
    """InsufficientStorage (507) when `cost` on top of `committed` exceeds `budget`."""
    if committed + cost > budget:
        raise InsufficientStorage(
            f"loading {name} needs {cost / MEBIBYTE:.1f} MiB across the workers; "
            f"{max(0, budget - committed) / MEBIBYTE:.1f} MiB of the {budget / MEBIBYTE:.1f} MiB budget is free"
        )


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    with contextlib.suppress(OSError, AttributeError):
        trim: Callable[[int], int] = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
        return trim
    return None


def keep_out_of_collections() -> None:
    """A loaded model's objects left out of later garbage collections, as serve does with start-up's (gc.freeze):
    full collections of a busy worker then walk only what serving creates, not every loaded model."""
    gc.freeze()


def release() -> None:
    """Collect what an unloaded model left (reference cycles included) and hand free heap back to the system.
    What is frozen is unfrozen for this one collection (an unloaded model's cycles among it too), then frozen
    again: a pause of one full collection per unload, not per request."""
    gc.unfreeze()
    gc.collect()
    gc.freeze()
    trim = _malloc_trim()
    if trim is not None:  # glibc only: keeps freed small blocks otherwise
        trim(0)
