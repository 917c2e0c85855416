"""CPU, GPU and Neuron core counts, each probed at most once per process and only when asked.

Probes import what they need when they run: this module is on the path of every `from smtoolkit import env`.
"""

from __future__ import annotations

import functools
import math
import os
from pathlib import Path

PROBE_TIMEOUT_S = 10.0
CGROUP_ROOT = Path("/sys/fs/cgroup")


def _cgroup_v2_limit(root: Path) -> float | None:
    try:
        quota, period = (root / "cpu.max").read_text().split()[:2]
    except (OSError, ValueError):
        return None
    return None if quota == "max" else int(quota) / int(period)


def _cgroup_v1_limit(root: Path) -> float | None:
    try:
        quota = int((root / "cpu" / "cpu.cfs_quota_us").read_text())
        period = int((root / "cpu" / "cpu.cfs_period_us").read_text())
    except (OSError, ValueError):
        return None
    return quota / period if quota > 0 and period > 0 else None


def cpu_count(cgroup_root: Path = CGROUP_ROOT) -> int:
    """CPUs this process may use: its affinity mask, capped by the cgroup's CPU quota (rounded up)."""
    try:
        available = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        available = os.cpu_count() or 1
    limit = _cgroup_v2_limit(cgroup_root) or _cgroup_v1_limit(cgroup_root)
    if limit is not None:
        available = min(available, max(1, math.ceil(limit)))
    return max(1, available)


@functools.cache
def num_cpus() -> int:
    return cpu_count()


def _probe(tool: str, *args: str) -> str | None:
    """The stdout of a probing tool, or None at once when it is not installed or fails."""
    import shutil
    import subprocess

    binary = shutil.which(tool)
    if binary is None:
        return None
    try:
        return subprocess.run(
            [binary, *args], capture_output=True, text=True, timeout=PROBE_TIMEOUT_S, check=True
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None


@functools.cache
def num_gpus() -> int:
    """NVIDIA GPUs as `nvidia-smi --list-gpus` lists them; 0 at once when there is no nvidia-smi."""
    listing = _probe("nvidia-smi", "--list-gpus") or ""
    return sum(1 for line in listing.splitlines() if line.startswith("GPU "))


@functools.cache
def num_neurons() -> int:
    """AWS Neuron cores as `neuron-ls -j` reports them; 0 at once when there is no neuron-ls."""
    import json

    try:
        devices = json.loads(_probe("neuron-ls", "-j") or "[]")
        return sum(int(device.get("nc_count", 0)) for device in devices)
    except (ValueError, TypeError, AttributeError):
        return 0


def _cgroup_memory_limit(root: Path) -> int | None:
    """The memory cgroup's limit in bytes (v2 memory.max, else v1 memory.limit_in_bytes); None when unlimited."""
    for path in (root / "memory.max", root / "memory" / "memory.limit_in_bytes"):
        try:
            text = path.read_text().strip()
        except OSError:
            continue
        if text.isdigit():
            return int(text)
        return None  # "max": no limit
    return None


def memory_limit(cgroup_root: Path = CGROUP_ROOT) -> int:
    """Bytes of memory this container may use: the cgroup's limit, capped by the machine's memory."""
    import psutil  # only callers that size memory pay for it

    machine = int(psutil.virtual_memory().total)
    limit = _cgroup_memory_limit(cgroup_root)
    return min(machine, limit) if limit is not None else machine
