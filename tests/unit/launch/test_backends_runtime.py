"""The pieces a multi-host job runs on, with real sockets on loopback: readiness waits, the coordinator, the
verdict, and the rank wrapper's error files."""

from __future__ import annotations

import json
import logging
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from smtoolkit.errors import LaunchError
from smtoolkit.launch.coordinator import Coordinator
from smtoolkit.launch.coordinator_client import CoordinatorClient
from smtoolkit.launch.hosts import wait_for_files, wait_for_names, wait_for_port
from smtoolkit.launch.mpi_local import host_env_file, scratch_dir, write_agent, write_host_env
from smtoolkit.launch.verdict import decide, failure_message


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_waits_are_bounded_and_name_whom_they_wait_for(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="smtoolkit.launch.hosts")
    wait_for_names(["localhost"], 1.0)
    with pytest.raises(LaunchError, match=r"host names to resolve: no-such-host\.invalid .*SMTOOLKIT_HOST_WAIT_S"):
        wait_for_names(["localhost", "no-such-host.invalid"], 0.3)
    port = _free_port()
    start = time.monotonic()
    with pytest.raises(LaunchError, match=f"the master: 127.0.0.1:{port}"):
        wait_for_port("127.0.0.1", port, 0.3, "the master")
    assert time.monotonic() - start < 2
    assert "waiting for the master" in caplog.text


def test_a_stop_signal_cuts_a_wait_short() -> None:
    port = _free_port()
    start = time.monotonic()

    def stopped() -> int | None:
        return signal.SIGTERM if time.monotonic() - start > 0.3 else None

    with pytest.raises(LaunchError, match=f"stopped by SIGTERM while waiting for the master: 127.0.0.1:{port}"):
        wait_for_port("127.0.0.1", port, 60.0, "the master", stopped)
    assert time.monotonic() - start < 2
    coordinator = Coordinator(["algo-1", "algo-2"], port, on_abort=lambda: None)
    client = CoordinatorClient(
        "algo-2", "127.0.0.1", port, 5.0, on_abort=lambda: None, on_collect=dict, on_end=lambda: None, stopped=stopped
    )
    try:
        start = time.monotonic()
        with pytest.raises(LaunchError, match="stopped by SIGTERM while waiting for the verdict"):
            client.wait_verdict(None)
        assert time.monotonic() - start < 2
    finally:
        client.close()
        coordinator.close()


def test_port_wait_ends_when_the_port_opens() -> None:
    port = _free_port()
    server = socket.socket()

    def open_late() -> None:
        server.bind(("127.0.0.1", port))
        server.listen()

    timer = threading.Timer(0.2, open_late)
    timer.start()
    try:
        wait_for_port("127.0.0.1", port, 5.0, "late server")
    finally:
        timer.join()
        server.close()


def test_coordinator_aborts_every_host_and_shares_the_verdict() -> None:
    port = _free_port()
    aborted = {"master": threading.Event(), "worker": threading.Event()}
    coordinator = Coordinator(["algo-1", "algo-2"], port, on_abort=aborted["master"].set)
    client = CoordinatorClient(
        "algo-2", "127.0.0.1", port, 5.0, on_abort=aborted["worker"].set, on_collect=dict, on_end=lambda: None
    )
    try:
        deadline = time.monotonic() + 5
        while "algo-2" not in coordinator._peers and time.monotonic() < deadline:
            time.sleep(0.01)
        failure = {"rank": 3, "host": "algo-2", "time": 1.0, "error": "ValueError: boom"}
        client.report({"exit_code": 1, "failures": [failure]})
        assert aborted["worker"].wait(5) and aborted["master"].wait(5)
        coordinator.report({"host": "algo-1", "exit_code": 143, "failures": []})
        verdict = decide(coordinator.collect(5.0, ask=False))
        coordinator.finish(verdict)
        assert client.wait_verdict(5.0) == verdict
        assert verdict == {"ok": False, "exit_code": 1, "rank": 3, "host": "algo-2", "error": "ValueError: boom"}
    finally:
        client.close()
        coordinator.close()


def test_a_host_that_connects_after_the_request_for_reports_is_asked_too() -> None:
    port = _free_port()
    coordinator = Coordinator(["algo-1", "algo-2"], port, on_abort=lambda: None)
    coordinator.report({"host": "algo-1", "exit_code": 0, "failures": []})
    late: list[CoordinatorClient] = []
    joins = threading.Timer(
        0.3,
        lambda: late.append(
            CoordinatorClient(
                "algo-2",
                "127.0.0.1",
                port,
                5.0,
                on_abort=lambda: None,
                on_collect=lambda: {"exit_code": 0, "failures": []},
                on_end=lambda: None,
            )
        ),
    )
    joins.start()
    try:
        reports = coordinator.collect(5.0, ask=True)
    finally:
        joins.join()
        coordinator.finish(decide(coordinator.reports))
        for client in late:
            client.close()
    assert reports["algo-2"]["exit_code"] == 0 and decide(reports)["ok"] is True


def test_a_host_that_never_reports_fails_the_job_in_bounded_time() -> None:
    coordinator = Coordinator(["algo-1", "algo-2"], _free_port(), on_abort=lambda: None)
    try:
        coordinator.report({"host": "algo-1", "exit_code": 0, "failures": []})
        verdict = decide(coordinator.collect(0.2, ask=True))
    finally:
        coordinator.close()
    assert verdict["ok"] is False and verdict["host"] == "algo-2"
    message = failure_message(verdict, ["torchrun"])
    assert 'ExtraInfo "host algo-2 failed first"' in message and "sent no report within 0.2 s" in message


def test_rank_main_records_the_error_of_the_failing_rank(tmp_path: Path) -> None:
    (tmp_path / "train.py").write_text("import sys\nraise KeyError(sys.argv[1])\n")
    env = {
        "SMTOOLKIT_RANK_DIR": str(tmp_path / "ranks"),
        "RANK": "5",
        "SM_CURRENT_HOST": "algo-9",
        "TORCHELASTIC_ERROR_FILE": str(tmp_path / "elastic.json"),
        "PATH": "/usr/bin:/bin",
    }
    argv = [sys.executable, "-m", "smtoolkit.launch.rank_main", "script", "train.py", "missing"]
    result = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=30)
    assert result.returncode == 1 and "KeyError: 'missing'" in result.stderr
    record = json.loads((tmp_path / "ranks" / "rank-5.json").read_text())
    assert record["rank"] == 5 and record["host"] == "algo-9" and record["error"].endswith("KeyError: 'missing'")
    assert "rank_main.py" not in record["error"]
    elastic = json.loads((tmp_path / "elastic.json").read_text())
    assert elastic["message"]["message"] == "KeyError: 'missing'"


def test_rank_main_runs_a_script_without_its_executable_bit_through_its_shebang(tmp_path: Path) -> None:
    (tmp_path / "run").write_text('#!/bin/sh\necho "ran: $@"\n')
    (tmp_path / "run").chmod(0o644)
    argv = [sys.executable, "-m", "smtoolkit.launch.rank_main", "executable", "run", "a", "b c"]
    result = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, timeout=30)
    assert result.returncode == 0 and result.stdout == "ran: a b c\n", result.stderr
    assert (tmp_path / "run").stat().st_mode & 0o777 == 0o644  # never chmod-ed


def test_file_wait_ends_when_another_launcher_writes_the_file(tmp_path: Path) -> None:
    target = tmp_path / "algo-2.json"
    threading.Timer(0.2, target.write_text, args=("{}",)).start()
    started = time.monotonic()
    wait_for_files([target], 10, "the MPI workers' launchers")
    assert 0.15 < time.monotonic() - started < 2
    with pytest.raises(LaunchError, match=r"gave up after 0.1 s waiting for the MPI workers' launchers: .*algo-3"):
        wait_for_files([tmp_path / "algo-3.json"], 0.1, "the MPI workers' launchers")


def test_local_mpi_agent_runs_the_command_here_with_the_hosts_variables(tmp_path: Path) -> None:
    """The agent mpirun calls as `AGENT HOST COMMAND...` (a real /bin/sh run): like `ssh HOST COMMAND`, the words
    are joined and run by a shell, with the host's variable file and its own OpenMPI scratch dirs."""
    local_dir, rank_dir = tmp_path / "local dir", tmp_path / "ranks"
    rank_dir.mkdir()
    write_agent(str(rank_dir), str(local_dir))
    write_host_env(host_env_file(str(local_dir), "algo-2"), {"SM_CURRENT_HOST": "algo-2"}, tmp_path)
    show = 'echo "$SMTOOLKIT_HOST_ENV|$OMPI_MCA_orte_tmpdir_base|$OMPI_MCA_btl_vader_backing_directory|$0"'
    result = subprocess.run(
        [str(rank_dir / "mpi-agent"), "algo-2", " ", show], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0, result.stderr
    scratch = scratch_dir(str(local_dir))
    try:
        host_env, tmpdir, vader, shell = result.stdout.strip().split("|")
        assert host_env == str(local_dir / "algo-2.json") and shell == "/bin/sh"
        assert tmpdir == f"{scratch}/algo-2" and vader == f"{scratch}/algo-2/vader" and Path(vader).is_dir()
        spec = json.loads(Path(host_env).read_text())
        assert spec == {"env": {"SM_CURRENT_HOST": "algo-2"}, "cwd": str(tmp_path)}
        missing = subprocess.run([str(rank_dir / "mpi-agent"), "algo-3", "true"], capture_output=True, text=True)
        assert missing.returncode == 255 and "MPI host algo-3 has no variables" in missing.stderr
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
