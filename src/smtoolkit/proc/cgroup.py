"""The memory cgroup's OOM-kill counter, read around a child's run to tell an OOM kill from a SIGKILL."""

from __future__ import annotations

from pathlib import Path

PROC_SELF_CGROUP = Path("/proc/self/cgroup")
CGROUP_ROOT = Path("/sys/fs/cgroup")


def oom_kill_count(proc_cgroup: Path = PROC_SELF_CGROUP, root: Path = CGROUP_ROOT) -> int | None:
    """How many processes the kernel's OOM killer has killed in this process's memory cgroup so far.

    cgroup v2 `memory.events` first (own cgroup, then the namespace root), then v1 `memory.oom_control`.
    None when no counter can be read (no cgroup, no memory controller, an old kernel): callers treat that as
    "unknown", never as an error.
    """
    for path in counter_files(proc_cgroup, root):
        count = read_counter(path, "oom_kill")
        if count is not None:
            return count
    return None


def counter_files(proc_cgroup: Path = PROC_SELF_CGROUP, root: Path = CGROUP_ROOT) -> list[Path]:
    """The files that may hold the counter, most specific first."""
    v2_path, v1_path = own_cgroups(_read_text(proc_cgroup) or "")
    files: list[Path] = []
    if v2_path is not None:
        files.append(root / v2_path.lstrip("/") / "memory.events")
    files.append(root / "memory.events")
    if v1_path is not None:
        files.append(root / "memory" / v1_path.lstrip("/") / "memory.oom_control")
    files.append(root / "memory" / "memory.oom_control")
    return list(dict.fromkeys(files))


def own_cgroups(text: str) -> tuple[str | None, str | None]:
    """(v2 path, v1 memory path) from the text of /proc/<pid>/cgroup (`id:controllers:path` lines)."""
    v2_path: str | None = None
    v1_path: str | None = None
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        hierarchy, controllers, path = parts
        if hierarchy == "0" and controllers == "":
            v2_path = path
        elif "memory" in controllers.split(","):
            v1_path = path
    return v2_path, v1_path


def read_counter(path: Path, key: str) -> int | None:
    """The integer after `key` in a flat-keyed cgroup file (`key value` lines); None if absent."""
    text = _read_text(path)
    if text is None:
        return None
    for line in text.splitlines():
        name, _, value = line.partition(" ")
        if name == key:
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _read_text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
