"""The pieces of `local transform`: model staging, the job's outcome, stop signals, the server process."""

from __future__ import annotations

import io
import os
import signal
import sys
import tarfile
import threading
import time
from pathlib import Path

import pytest

from smtoolkit.errors import CodeFetchError, ConfigError
from smtoolkit.local.jobs.transform_report import TransformJobOutcome, describe_transform, failure_reason
from smtoolkit.local.platform.interrupt import JobInterrupted, StopSignals
from smtoolkit.local.platform.modeldata import stage_code, stage_model
from smtoolkit.local.platform.modelserver import ModelServer
from smtoolkit.local.spec.transform import ModelContainer, TransformJobSpec
from smtoolkit.paths import JobPaths
from smtoolkit.transform.assemble import FileOutcome
from smtoolkit.transform.io import InputFile
from smtoolkit.transform.progress import Summary
from smtoolkit.transform.request import TransformRequest


def _tarball(path: Path, members: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


def _container(**fields: object) -> ModelContainer:
    return ModelContainer.model_validate(fields)


def test_model_tarball_is_unpacked_with_its_code_found_in_model_code(tmp_path: Path) -> None:
    archive = _tarball(tmp_path / "model.tar.gz", {"model.json": b"{}", "code/inference.py": b"x = 1\n"})
    paths = JobPaths(tmp_path / "algo-1")
    container = _container(ModelDataUrl=str(archive), Environment={"SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code"})
    staged = stage_model(container, {}, paths, {})
    assert staged.source == str(archive) and staged.files == 2
    assert (paths.model_dir / "model.json").read_bytes() == b"{}"
    assert staged.code_dir == paths.model_dir / "code"  # the platform path, in the host's tree
    assert stage_model(_container(ModelDataUrl=str(archive)), {}, JobPaths(tmp_path / "b"), {}).code_dir is None


def test_model_dir_is_copied_and_code_fetched_into_the_tree(tmp_path: Path) -> None:
    model = tmp_path / "model"
    (model / "sub").mkdir(parents=True)
    (model / "sub" / "w.bin").write_bytes(b"w")
    (model / "link").symlink_to("sub/w.bin")
    code = tmp_path / "code"
    code.mkdir()
    (code / "inference.py").write_text("x = 1\n")
    paths = JobPaths(tmp_path / "algo-1")
    job_env = {"SAGEMAKER_SUBMIT_DIRECTORY": str(code)}  # the job's Environment wins over the model's
    staged = stage_model(
        _container(ModelDataUrl=str(model), Environment={"SAGEMAKER_SUBMIT_DIRECTORY": "x"}), job_env, paths, {}
    )
    assert staged.files == 2 and (paths.model_dir / "link").is_symlink()
    assert staged.code_dir == paths.code_dir and (paths.code_dir / "inference.py").read_text() == "x = 1\n"


def test_uncompressed_model_data_source_copies_the_objects(tmp_path: Path) -> None:
    source = tmp_path / "prefix"
    (source / "a").mkdir(parents=True)
    (source / "a" / "weights").write_bytes(b"123")
    container = _container(ModelDataSource={"S3DataSource": {"S3Uri": str(source), "CompressionType": "None"}})
    paths = JobPaths(tmp_path / "algo-1")
    assert stage_model(container, {}, paths, {}).files == 1
    assert (paths.model_dir / "a" / "weights").read_bytes() == b"123"
    assert stage_model(_container(), {}, JobPaths(tmp_path / "empty"), {}).files == 0  # no model data: empty dir


def test_bad_model_data_is_refused_naming_it(tmp_path: Path) -> None:
    paths = JobPaths(tmp_path / "algo-1")
    with pytest.raises(ConfigError, match="ModelDataUrl: no such file or directory"):
        stage_model(_container(ModelDataUrl=str(tmp_path / "missing.tar.gz")), {}, paths, {})
    text = tmp_path / "model.txt"
    text.write_text("not a tarball")
    with pytest.raises(ConfigError, match=r"model.txt: Model.PrimaryContainer.ModelDataUrl: is not a tar archive"):
        stage_model(_container(ModelDataUrl=str(text)), {}, paths, {})
    evil = _tarball(tmp_path / "evil.tar.gz", {"../escape.txt": b"x"})
    with pytest.raises(CodeFetchError, match="refused archive member '../escape.txt'"):
        stage_model(_container(ModelDataUrl=str(evil)), {}, paths, {})
    assert not (tmp_path / "algo-1" / "escape.txt").exists() and not (tmp_path / "escape.txt").exists()
    with pytest.raises(ConfigError, match="SAGEMAKER_SUBMIT_DIRECTORY: /opt/ml/model/code .* is not a directory"):
        stage_code("/opt/ml/model/code", JobPaths(tmp_path / "other"), {})


def _request() -> TransformRequest:
    return TransformRequest.model_validate(
        {
            "TransformInput": {"DataSource": {"S3DataSource": {"S3Uri": "/in"}}},
            "TransformOutput": {"S3OutputPath": "/out"},
        }
    )


def _summary(*errors: str | None) -> Summary:
    outcomes = [
        FileOutcome(
            InputFile(f"/in/{index}.csv", f"{index}.csv"), records=2, error=error, location=f"/out/{index}.csv.out"
        )
        for index, error in enumerate(errors)
    ]
    return Summary(len(errors), outcomes, 1.0)


def test_describe_completed_failed_and_stopped(tmp_path: Path) -> None:
    spec = TransformJobSpec.model_validate({"TransformJobName": "j"})
    paths = JobPaths(tmp_path / "algo-1")
    done = describe_transform(spec, _request(), TransformJobOutcome(summary=_summary(None)), "arn", paths)
    described = done.describe()
    assert (done.status, done.exit_code, done.failure_reason) == ("Completed", 0, None)
    assert described["TransformJobStatus"] == "Completed" and "SecondaryStatus" not in described
    assert described["LocalOutputFiles"] == [{"Input": "/in/0.csv", "Output": "/out/0.csv.out"}]
    assert described["LocalServerLog"] == str(tmp_path / "algo-1.log")
    failed = describe_transform(
        spec, _request(), TransformJobOutcome(summary=_summary(None, "batch 1: HTTP 500")), "arn", paths
    )
    assert (failed.status, failed.exit_code) == ("Failed", 1)
    assert failed.failure_reason is not None and "FAILED 1.csv: batch 1: HTTP 500" in failed.failure_reason
    assert failed.failure_reason.startswith("ClientError: 1 of 2 files transformed")
    stopped = describe_transform(spec, _request(), TransformJobOutcome(interrupted=signal.SIGTERM), "arn", paths)
    assert (stopped.status, stopped.exit_code) == ("Stopped", 143)


def test_failure_reason_keeps_the_servers_last_lines_within_1024_chars() -> None:
    tail = "\n".join(f"Traceback line {index}" for index in range(200)) + "\nValueError: the real error"
    reason = failure_reason(
        TransformJobOutcome(error="the model server exited before answering /ping", server_exit=1, server_tail=tail)
    )
    assert reason is not None and len(reason) == 1024
    assert reason.startswith(
        "ClientError: the model server exited before answering /ping\nthe model server exited with code 1"
    )
    assert reason.endswith("ValueError: the real error")


def test_stop_signals_raise_once_then_hurry_and_restore_the_handlers() -> None:
    # signal.raise_signal runs the Python handler before it returns: no waiting needed.
    previous = signal.getsignal(signal.SIGTERM)
    with StopSignals() as stop:
        with pytest.raises(JobInterrupted) as caught:
            signal.raise_signal(signal.SIGTERM)
        assert caught.value.signum == signal.SIGTERM and stop.received == signal.SIGTERM
        signal.raise_signal(signal.SIGINT)
        assert stop.hurry.is_set()
    assert signal.getsignal(signal.SIGTERM) is previous
    with StopSignals() as stop:
        stop.disarm()
        signal.raise_signal(signal.SIGINT)
        assert stop.hurry.is_set() and stop.received is None


STUBBORN = """
import signal, sys, time
signal.signal(signal.SIGTERM, lambda *_: print("ignoring SIGTERM", flush=True))
print("ready", flush=True)
while True:
    time.sleep(0.05)
"""


def test_model_server_relays_lines_and_kills_a_server_that_ignores_sigterm(tmp_path: Path) -> None:
    lines: list[tuple[str, bytes]] = []
    ready = threading.Event()

    def on_line(host: str, line: bytes) -> None:
        lines.append((host, line))
        ready.set()

    server = ModelServer("algo-1", (sys.executable, "-c", STUBBORN), dict(os.environ), tmp_path, on_line)
    server.start()
    assert ready.wait(10), "the server never printed its first line"
    assert server.alive() and server.exit_code is None
    started = time.monotonic()
    assert server.stop(0.5) == 128 + signal.SIGKILL
    assert time.monotonic() - started < 5
    assert lines[0] == ("algo-1", b"ready\n") and "ignoring SIGTERM" in server.tail()
    assert server.stopped_by_us and not server.alive()
