"""A bound on how long torchrun may outlive its ranks' code: torchrun with a static rendezvous can stay up at
exit (its exit barrier waiting for an agent that never comes, a rank held alive by a non-daemon thread).

Each rank writes `finished-N.json` (rank_main) when the user's code has ended. Once every local rank has
written one and the engine is still running `exit_grace_s` later, the guard stops it: SIGTERM to the engine's
process group and to each rank still alive (torchrun starts every rank in a session of its own), SIGKILL after
KILL_AFTER_S. The host's outcome is then the ranks' own: 0 when every rank's code ended with 0, else the
first non-zero exit code, whatever torchrun's exit code was.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import signal
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Any

from smtoolkit.launch.backends.base import EnginePlan
from smtoolkit.launch.rank_main import FINISHED_PREFIX
from smtoolkit.proc.stop import wait_for_pids
from smtoolkit.proc.supervise import Outcome, ProcessSpec, run_supervised

logger = logging.getLogger(__name__)

POLL_S = 0.2
KILL_AFTER_S = 3.0


def run_engine(spec: ProcessSpec, engine: EnginePlan, *, grace_period: float, stderr_tail_bytes: int) -> Outcome:
    """run_supervised; for torchrun, under an ExitGuard on the engine's rank dir."""
    if engine.backend != "torchrun" or spec.argv != engine.argv:
        return run_supervised(spec, grace_period=grace_period, stderr_tail_bytes=stderr_tail_bytes)
    with ExitGuard(Path(engine.rank_dir), engine.procs_per_host, engine.exit_grace_s) as guard:
        outcome = run_supervised(spec, grace_period=grace_period, stderr_tail_bytes=stderr_tail_bytes)
    return guard.settle(outcome)


def finished_ranks(directory: Path) -> list[dict[str, Any]]:
    records = []
    for path in sorted(directory.glob(f"{FINISHED_PREFIX}*.json")):
        with contextlib.suppress(OSError, ValueError):
            records.append(json.loads(path.read_text(encoding="utf-8")))
    return records


def _stat(pid: int) -> list[str] | None:
    """/proc/PID/stat's fields after the command name (state first), or None when there is no such process."""
    try:
        return Path(f"/proc/{pid}/stat").read_text(encoding="ascii").rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def _alive(record: dict[str, Any]) -> bool:
    """Whether the rank's own process (same pid and start time) is still running, zombies excluded."""
    fields = _stat(int(record.get("pid", 0)))
    return fields is not None and fields[0] != "Z" and int(fields[19]) == int(record.get("start", 0))


class ExitGuard:
    """While entered, a thread watches `directory` for `local_ranks` finished markers (see the module doc)."""

    def __init__(self, directory: Path, local_ranks: int, grace_s: float) -> None:
        self._directory = directory
        self._local_ranks = local_ranks
        self._grace_s = grace_s
        self._engine_ended = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="exit-guard", daemon=True)
        self.fired = False
        self.records: list[dict[str, Any]] = []

    def __enter__(self) -> ExitGuard:
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._engine_ended.set()
        self._thread.join()

    def settle(self, outcome: Outcome) -> Outcome:
        """The engine's outcome, or the ranks' own when the guard had to stop the engine."""
        if not self.fired:
            return outcome
        code = next((int(r["exit_code"]) for r in self.records if int(r.get("exit_code", 1)) != 0), 0)
        return dataclasses.replace(outcome, exit_code=code, signal=None, oom_killed=False, escalated=False)

    def _watch(self) -> None:
        since: float | None = None
        while not self._engine_ended.wait(POLL_S):
            records = finished_ranks(self._directory)
            if len(records) < self._local_ranks:
                continue
            since = since or time.monotonic()
            if time.monotonic() - since >= self._grace_s:
                self.records = records
                self._stop_engine(records)
                return

    def _stop_engine(self, records: list[dict[str, Any]]) -> None:
        self.fired = True
        alive = [record for record in records if _alive(record)]
        still = ", ".join(f"rank {r['rank']} (pid {r['pid']})" for r in alive) or "no rank process"
        logger.warning(
            "every local rank's code ended %g s ago but the engine is still running (%s left); stopping it "
            "(SMTOOLKIT_EXIT_GRACE_S)",
            self._grace_s,
            still,
        )
        engines = {int(record.get("ppid", 0)) for record in records} - {0}
        self._signal(engines, alive, signal.SIGTERM)
        deadline = time.monotonic() + KILL_AFTER_S
        wait_for_pids([int(record["pid"]) for record in alive], KILL_AFTER_S)
        self._engine_ended.wait(max(deadline - time.monotonic(), 0.0))
        self._signal(engines, alive, signal.SIGKILL)

    @staticmethod
    def _signal(engines: set[int], ranks: list[dict[str, Any]], signum: int) -> None:
        for pid in engines:
            _signal_group_of_child(pid, signum)
        for record in ranks:
            if _alive(record):
                _signal_group_of_child(int(record["pid"]), signum, any_parent=True)


def _signal_group_of_child(pid: int, signum: int, any_parent: bool = False) -> None:
    """Signal the process group that `pid` leads (`pid` alone when it leads none); unless `any_parent`, only
    when `pid` is this launcher's own child (the engine it started, not a process that reused its pid)."""
    fields = _stat(pid)
    if fields is None:
        return
    parent, group = int(fields[1]), int(fields[2])
    if not any_parent and parent != os.getpid():
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        if group == pid:
            os.killpg(pid, signum)
        else:
            os.kill(pid, signum)
