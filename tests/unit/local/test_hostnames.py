"""Host names for in-process local hosts: the hosts file, the modes, and a real run in new namespaces (unshare
as root and, as an unprivileged user would, with a user namespace)."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import pytest

from smtoolkit.errors import ConfigError
from smtoolkit.local.platform import hostnames
from smtoolkit.local.platform.hostnames import HostNaming, as_host, host_naming, hosts_text

SHOW = "import socket; print(socket.gethostname(), socket.gethostbyname('algo-1'), socket.gethostbyname('localhost'))"


def test_job_hosts_come_after_the_machines_own() -> None:
    text = hosts_text(["algo-1", "algo-2"], "127.0.0.1 localhost\n::1 localhost\n")
    assert text.splitlines() == [
        "127.0.0.1 localhost",
        "::1 localhost",
        "# smtoolkit local job hosts",
        "127.0.0.1 algo-1 algo-2",
    ]


def test_off_changes_nothing(tmp_path: Path) -> None:
    assert host_naming(tmp_path, ["algo-1"], "off") is None
    assert not (tmp_path / ".hosts").exists()
    assert as_host(None, "algo-1", ["train"]) == ("train",)


def test_without_the_tools_auto_runs_hosts_as_they_are_and_on_says_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr("shutil.which", lambda tool: None if tool == "hostname" else f"/bin/{tool}")
    with caplog.at_level(logging.INFO):
        assert host_naming(tmp_path, ["algo-1"], "auto") is None
    assert "not found on PATH: hostname" in caplog.text
    with pytest.raises(ConfigError, match="--hostnames: cannot give each host its own name here: not found.*hostname"):
        host_naming(tmp_path, ["algo-1"], "on")


def test_auto_starts_hosts_under_their_names_where_namespaces_work(tmp_path: Path) -> None:
    naming = host_naming(tmp_path, ["algo-1", "algo-2"], "on")
    assert naming is not None and (tmp_path / ".hosts").read_text().endswith("127.0.0.1 algo-1 algo-2\n")
    argv = as_host(naming, "algo-2", [sys.executable, "-c", SHOW])
    result = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=True)
    assert result.stdout.split() == ["algo-2", "127.0.0.1", "127.0.0.1"]


def test_an_unprivileged_user_gets_the_same_through_a_user_namespace(tmp_path: Path) -> None:
    """The path taken when not root (run here as root, which a user namespace allows just the same)."""
    (tmp_path / ".hosts").write_text(hosts_text(["algo-1"], "127.0.0.1 localhost\n"))
    naming = HostNaming(tmp_path / ".hosts", hostnames._AS_USER)
    argv = naming.wrap("algo-1", [sys.executable, "-c", SHOW + "; import os; print(os.getpid())"])
    process = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=True)
    hostname, master, localhost, _pid = process.stdout.split()
    assert (hostname, master, localhost) == ("algo-1", "127.0.0.1", "127.0.0.1")


def test_the_wrapped_command_keeps_the_pid_the_runner_started(tmp_path: Path) -> None:
    """unshare and sh exec: signals and exit codes reach and come from the host's own command."""
    naming = host_naming(tmp_path, ["algo-1"], "on")
    assert naming is not None
    argv = as_host(naming, "algo-1", [sys.executable, "-c", "import os, sys; print(os.getpid()); sys.exit(7)"])
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
    out, _ = process.communicate(timeout=30)
    assert process.returncode == 7 and int(out) == process.pid


def test_the_hosts_tree_is_opt_ml_inside_and_the_machines_opt_is_untouched(tmp_path: Path) -> None:
    opt_before = sorted(path.name for path in Path("/opt").iterdir())
    naming = host_naming(tmp_path, ["algo-1"], "on")
    assert naming is not None and naming.opt_scratch == tmp_path / ".opt"
    tree = tmp_path / "algo-1"
    (tree / "processing" / "input").mkdir(parents=True)
    (tree / "processing" / "input" / "data.csv").write_text("a,b\n")
    script = "print(open('/opt/ml/processing/input/data.csv').read(), end=''); open('/opt/ml/out.txt', 'w').write('x')"
    argv = as_host(naming, "algo-1", [sys.executable, "-c", script], tree)
    result = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=True)
    assert result.stdout == "a,b\n" and (tree / "out.txt").read_text() == "x"
    assert sorted(path.name for path in Path("/opt").iterdir()) == opt_before


def test_without_an_opt_to_overlay_hosts_keep_their_names_and_opt_ml_is_left_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(
        hostnames, "_SETUP_OPT_ML", hostnames._SETUP_OPT_ML.replace("lowerdir=/opt", "lowerdir=/nowhere")
    )
    with caplog.at_level(logging.INFO):
        naming = host_naming(tmp_path, ["algo-1"], "on")
    assert naming is not None and naming.opt_scratch is None
    assert "/opt/ml is not each host's tree here" in caplog.text
