"""Work dir, host environment, job status, and the host runner with real processes."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path

import pytest

from smtoolkit.errors import ConfigError, LaunchError
from smtoolkit.local.jobs.common import JobReport, host_environment, local_hosts, status_of
from smtoolkit.local.platform.modelserver import ModelServer
from smtoolkit.local.platform.runner import HostExit, HostLaunch, RunOutcome, run_hosts
from smtoolkit.local.platform.tree import host_paths, job_arn
from smtoolkit.local.platform.workdir import MARKER, check_work_dir, prepare_work_dir


def test_prepare_work_dir_refuses_foreign_dirs_and_removes_only_what_a_run_made(tmp_path: Path) -> None:
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "important").write_text("keep")
    with pytest.raises(ConfigError, match="is not empty and was not made by a local job"):
        check_work_dir(foreign, {})
    ours = tmp_path / "ours"
    prepare_work_dir(ours)
    (ours / "algo-1" / "ro").mkdir(parents=True)
    (ours / "algo-1" / "ro" / "f").write_text("x")
    (ours / "algo-1" / "ro").chmod(0o555)
    for name in ("algo-1.log", "job.json"):
        (ours / name).write_text("x")
    (ours / "output" / "earlier-job" / "output").mkdir(parents=True)
    (ours / "output" / "earlier-job" / "output" / "model.tar.gz").write_text("model")
    (ours / "notes.txt").write_text("the user's")
    check_work_dir(ours, {"--model-data": str(ours / "output" / "earlier-job" / "output" / "model.tar.gz")})
    prepare_work_dir(ours)
    assert sorted(p.name for p in ours.iterdir()) == [MARKER, "notes.txt", "output"]
    assert (ours / "output" / "earlier-job" / "output" / "model.tar.gz").read_text() == "model"


def test_a_work_dir_holding_an_input_in_what_a_run_removes_is_refused(tmp_path: Path) -> None:
    work = tmp_path / "work"
    prepare_work_dir(work)
    (work / "algo-1" / "model").mkdir(parents=True)
    with pytest.raises(ConfigError, match=r"--channel train: is an input of the job but lies in .*algo-1"):
        check_work_dir(work, {"--channel train": str(work / "algo-1" / "model"), "--input": "s3://b/k"})


def test_host_environment_drops_job_variables() -> None:
    environ = {"PATH": "/bin", "SM_CHANNEL_TRAIN": "/x", "SAGEMAKER_PROGRAM": "y", "CURRENT_HOST": "h", "A": "0"}
    env = host_environment(environ, {"A": "1"}, Path("/w/algo-1"), ["algo-1"], {"TRAINING_JOB_NAME": "j"})
    assert env == {
        "PATH": "/bin",
        "A": "1",
        "SAGEMAKER_BASE_DIR": "/w/algo-1",
        "SMTOOLKIT_HOST_ADDRESSES": '{"algo-1": "127.0.0.1"}',
        "TRAINING_JOB_NAME": "j",
    }


@pytest.mark.parametrize(
    ("outcome", "expected"),
    [
        (RunOutcome((HostExit("algo-1", 0),), None, None, False), ("Completed", "Completed", 0)),
        (
            RunOutcome((HostExit("algo-2", 3), HostExit("algo-1", 143)), "host_failed", None, False),
            ("Failed", "Failed", 3),
        ),
        (RunOutcome((HostExit("algo-1", 143),), "signal", signal.SIGINT, False), ("Stopped", "Stopped", 130)),
        (RunOutcome((HostExit("algo-1", 143),), "max_runtime", None, False), ("Stopped", "MaxRuntimeExceeded", 124)),
        (RunOutcome((HostExit("algo-1", 300),), "host_failed", None, False), ("Failed", "Failed", 1)),
    ],
)
def test_status_of(outcome: RunOutcome, expected: tuple[str, str, int]) -> None:
    assert status_of(outcome) == expected


def _host(name: str, code: str, tmp_path: Path) -> HostLaunch:
    return HostLaunch(name, (sys.executable, "-c", code), {}, tmp_path)


def test_runner_relays_lines_with_hosts_and_stops_the_others_when_one_fails(tmp_path: Path) -> None:
    lines: list[tuple[str, bytes]] = []
    printed = tmp_path / "printed"  # a FIFO: algo-2 fails only once algo-1 has printed its line
    os.mkfifo(printed)
    first = f"import time; print('a', flush=True); open({str(printed)!r}, 'w').close(); time.sleep(30)"
    second = f"import sys; open({str(printed)!r}).close(); sys.stdout.write('b\\nno newline'); sys.exit(4)"
    started = time.monotonic()
    outcome = run_hosts(
        [_host("algo-1", first, tmp_path), _host("algo-2", second, tmp_path)],
        lambda host, line: lines.append((host, line)),
        grace_period=10,
    )
    assert time.monotonic() - started < 10
    assert outcome.stop_reason == "host_failed" and not outcome.escalated
    assert [(e.host, e.exit_code) for e in outcome.exits] == [("algo-2", 4), ("algo-1", 128 + signal.SIGTERM)]
    assert sorted(lines) == [("algo-1", b"a\n"), ("algo-2", b"b\n"), ("algo-2", b"no newline\n")]


def test_runner_escalates_to_sigkill_after_the_grace_period_on_max_runtime(tmp_path: Path) -> None:
    ignore = (
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('up', flush=True); time.sleep(30)"
    )
    started = time.monotonic()
    outcome = run_hosts([_host("algo-1", ignore, tmp_path)], lambda host, line: None, grace_period=0.5, max_runtime=1)
    assert time.monotonic() - started < 8
    assert outcome.stop_reason == "max_runtime" and outcome.escalated
    assert outcome.exits == (HostExit("algo-1", 128 + signal.SIGKILL),)


def test_a_host_or_server_that_cannot_start_is_named_with_its_program(tmp_path: Path) -> None:
    missing = str(tmp_path / "no-such-program")
    with pytest.raises(LaunchError, match=rf"cannot start host algo-1 \('{missing}'\)"):
        run_hosts([HostLaunch("algo-1", (missing,), {}, tmp_path)], lambda host, line: None)
    server = ModelServer("algo-1", (missing,), {}, tmp_path, lambda host, line: None)
    with pytest.raises(LaunchError, match=rf"cannot start the model server \('{missing}'\)"):
        server.start()
    assert server.stop(1.0) is None


def test_local_hosts_gives_every_tree_and_none_for_a_host_that_never_exited(tmp_path: Path) -> None:
    trees = {host: host_paths(tmp_path, host) for host in ("algo-1", "algo-2")}
    outcome = RunOutcome((HostExit("algo-2", 3),), "host_failed", None, False)
    assert local_hosts(outcome, trees) == {
        "algo-1": {"BaseDir": str(tmp_path / "algo-1"), "ExitCode": None},
        "algo-2": {"BaseDir": str(tmp_path / "algo-2"), "ExitCode": 3},
    }


@pytest.mark.parametrize(
    ("environ", "region"),
    [
        ({"SAGEMAKER_REGION": "ignored"}, "local"),
        ({"AWS_DEFAULT_REGION": "eu-west-1"}, "eu-west-1"),
        ({"AWS_REGION": "us-east-2", "AWS_DEFAULT_REGION": "eu-west-1"}, "us-east-2"),
    ],
)
def test_job_arn_takes_the_region_from_the_environment(environ: dict[str, str], region: str) -> None:
    assert job_arn("training-job", "My-Job", environ) == f"arn:aws:sagemaker:{region}:000000000000:training-job/my-job"


def test_the_written_description_masks_secret_looking_values(tmp_path: Path) -> None:
    report = JobReport("TransformJob", "j", "Completed", None, 0, details={"Environment": {"DB_PASSWORD": "hunter2"}})
    report.write(tmp_path / "job.json")
    text = (tmp_path / "job.json").read_text()
    assert "hunter2" not in text and json.loads(text)["Environment"]["DB_PASSWORD"] == "******"
