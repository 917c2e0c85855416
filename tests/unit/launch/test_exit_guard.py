"""The exit guard with real processes: an engine that starts real rank_main ranks (each in a session of its own,
as torchrun does) and then does not exit. torchrun itself is tested in tests/integration/multihost."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from smtoolkit.launch import exit_guard
from smtoolkit.launch.backends.base import RANK_MAIN, EnginePlan
from smtoolkit.launch.exit_guard import run_engine
from smtoolkit.proc.supervise import ProcessSpec

# A stand-in for torchrun's agent: starts the ranks, waits for them, then (STUCK) ignores SIGTERM and stays.
AGENT = """
import os, signal, subprocess, sys, time
rank_main, stuck, scripts = sys.argv[1], sys.argv[2] == "stuck", sys.argv[3:]
def start(rank, script):
    env = {**os.environ, "RANK": str(rank)}
    return subprocess.Popen([sys.executable, rank_main, "script", script], env=env, start_new_session=True)
ranks = [start(rank, script) for rank, script in enumerate(scripts)]
codes = [rank.wait() for rank in ranks] if stuck else [ranks[0].wait()]
if stuck:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    time.sleep(60)
sys.exit(max(codes))
"""
OK = "print('done')\n"
FAILS = "raise SystemExit(3)\n"
# Ends its code, but a non-daemon thread keeps the process alive.
LINGERS = "import os, threading, time\nopen('lingering.pid', 'w').write(str(os.getpid()))\n"
LINGERS += "threading.Thread(target=time.sleep, args=(60,)).start()\n"


def _run(tmp_path: Path, mode: str, scripts: list[str], grace: float = 0.3) -> tuple[int, float]:
    for index, text in enumerate(scripts):
        (tmp_path / f"rank{index}.py").write_text(text)
    (tmp_path / "agent.py").write_text(AGENT)
    argv = (sys.executable, "agent.py", RANK_MAIN, mode, *[f"rank{i}.py" for i in range(len(scripts))])
    rank_dir = tmp_path / "ranks"
    engine = EnginePlan(
        "torchrun", "single", argv, rank_dir=str(rank_dir), procs_per_host=len(scripts), exit_grace_s=grace
    )
    env = {"PATH": "/usr/bin:/bin", "SMTOOLKIT_RANK_DIR": str(rank_dir)}
    start = time.monotonic()
    outcome = run_engine(ProcessSpec(argv, env, tmp_path), engine, grace_period=5.0, stderr_tail_bytes=4096)
    return outcome.exit_code, time.monotonic() - start


@pytest.fixture(autouse=True)
def quick_kill(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(exit_guard, "KILL_AFTER_S", 0.5)


def test_a_stuck_engine_is_stopped_and_the_ranks_outcome_reported(tmp_path: Path) -> None:
    code, elapsed = _run(tmp_path, "stuck", [OK, OK])
    assert code == 0 and elapsed < 10  # SIGTERM ignored: SIGKILL after KILL_AFTER_S
    code, _ = _run(tmp_path, "stuck", [OK, FAILS])
    assert code == 3


def test_a_rank_kept_alive_by_a_thread_is_killed(tmp_path: Path) -> None:
    code, elapsed = _run(tmp_path, "waits-for-rank-0", [LINGERS], grace=0.3)
    assert code == 0 and elapsed < 10
    pid = int((tmp_path / "lingering.pid").read_text())
    assert not Path(f"/proc/{pid}").exists() or Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] == "Z"


def test_an_engine_that_exits_by_itself_keeps_its_outcome(tmp_path: Path) -> None:
    code, elapsed = _run(tmp_path, "waits-for-rank-0", [FAILS], grace=30)
    assert code == 3 and elapsed < 10
