"""`train` end to end in real subprocesses: every entry point kind, outcomes, code sources, requirements."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import signal
import subprocess
import sys
import tarfile
import time
import zipfile
from pathlib import Path
from typing import Any

import pytest

from tests.s3server import S3Server

TRAIN = [sys.executable, "-m", "smtoolkit", "train"]


def _train(base: Path, extra: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SAGEMAKER_BASE_DIR": str(base), **(extra or {})}
    return subprocess.run(TRAIN, env=env, capture_output=True, text=True, timeout=120)


def _job(job_tree: Any, program: str, files: dict[str, str], **hps: str) -> Path:
    base: Path = job_tree(
        hyperparameters={"sagemaker_program": json.dumps(program), **hps},
        channels={"train": {"TrainingInputMode": "File"}},
    )
    for name, content in files.items():
        target = base / "code" / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content)
    return base


DUMP = """
import json, os, sys
from smtoolkit import env
out = {"argv": sys.argv[1:], "cwd": os.getcwd(), "path0": os.environ["PYTHONPATH"].split(os.pathsep)[0],
       "hps": json.loads(os.environ["SM_HPS"]), "channel": os.environ["SM_CHANNEL_TRAIN"],
       "unbuffered": os.environ.get("PYTHONUNBUFFERED"), "env_lr": env.hyperparameters["lr"]}
env.model_dir.mkdir(parents=True, exist_ok=True)
(env.model_dir / "out.json").write_text(json.dumps(out))
"""


def test_script_success(job_tree: Any) -> None:
    base = _job(job_tree, "train.py", {"train.py": DUMP}, lr="0.1", name='"a b"')
    result = _train(base)
    assert result.returncode == 0, result.stderr
    out = json.loads((base / "model" / "out.json").read_text())
    assert out["argv"] == ["--lr", "0.1", "--name", "a b"]
    assert out["cwd"] == str(base / "code") == out["path0"]
    assert out["hps"] == {"lr": 0.1, "name": "a b"} and out["env_lr"] == 0.1
    assert out["channel"] == str(base / "input" / "data" / "train")
    assert out["unbuffered"] == "1"
    assert (base / "output" / "success").exists()
    assert not (base / "output" / "failure").exists()
    assert "running script train.py (process) in" in result.stderr  # one line at INFO
    assert "SM_TRAINING_ENV" not in result.stderr and "launch plan" not in result.stderr  # the plan: DEBUG


def test_module_function_shell_and_executable(job_tree: Any) -> None:
    record = "import sys, pathlib; pathlib.Path('{0}').write_text(repr(sys.argv[1:]))\n"
    cases = {
        "pkg.mod": {"pkg/__init__.py": "", "pkg/mod.py": record.format("../model/module")},
        "pkg.mod:main": {"pkg/__init__.py": "", "pkg/mod.py": f"def main():\n    {record.format('../model/fn')}"},
        "run.sh": {"run.sh": 'printf "%s|" "$@" > ../model/shell\n'},
        "run": {"run": '#!/bin/sh\nprintf "%s|" "$@" > ../model/exe\n'},
    }
    for program, files in cases.items():
        base = _job(job_tree, program, files, x='"a b"', lr="1")
        (base / "model").mkdir(exist_ok=True)
        result = _train(base)
        assert result.returncode == 0, (program, result.stderr)
    model = base / "model"
    assert (model / "module").read_text() == "['--lr', '1', '-x', 'a b']"
    assert (model / "fn").read_text() == "['--lr', '1', '-x', 'a b']"
    assert (model / "shell").read_text() == "--lr|1|-x|a b|"
    assert (model / "exe").read_text() == "--lr|1|-x|a b|"


def test_failure_report(job_tree: Any) -> None:
    script = "import sys\nprint('début', file=sys.stderr)\nraise ValueError('bad value: 42')\n"
    base = _job(job_tree, "train.py", {"train.py": script})
    result = _train(base)
    assert result.returncode == 1
    failure = (base / "output" / "failure").read_text()
    head = failure[:1024]
    assert head.startswith("UserScriptError:\nExitCode 1\n")
    assert "ValueError: bad value: 42" in head and "train.py" in head
    assert "ValueError: bad value: 42" in result.stderr  # the child's stderr reached ours unchanged
    assert not (base / "output" / "success").exists()


def test_exit_code_and_signal_death(job_tree: Any) -> None:
    base = _job(job_tree, "train.py", {"train.py": "import sys; sys.exit(3)"})
    assert _train(base).returncode == 3
    base = _job(job_tree, "train.py", {"train.py": "import os, signal; os.kill(os.getpid(), signal.SIGKILL)"})
    (base / "output" / "failure").unlink(missing_ok=True)
    assert _train(base).returncode == 137
    failure = (base / "output" / "failure").read_text()
    assert "ExitCode 137" in failure and "SIGKILL" in failure


def test_user_failure_reason_is_kept(job_tree: Any) -> None:
    script = "from smtoolkit import env\n(env.output_dir / 'failure').write_text('my reason')\nraise SystemExit(5)\n"
    base = _job(job_tree, "train.py", {"train.py": script})
    assert _train(base).returncode == 5
    assert (base / "output" / "failure").read_text() == "my reason"


def test_missing_entry_point_and_bad_config(job_tree: Any) -> None:
    base = _job(job_tree, "train.py", {"other.py": ""})
    result = _train(base)
    assert result.returncode == 2  # a configuration error (README: How commands end)
    first_line = (base / "output" / "failure").read_text().splitlines()[0]
    assert first_line.startswith("EntryPointError: entry point 'train.py' not found in")
    (base / "input" / "config" / "resourceconfig.json").write_text("{")
    assert _train(base).returncode == 2
    assert (base / "output" / "failure").read_text().startswith("ConfigError: ")  # not the earlier run's


def test_a_run_clears_the_earlier_runs_outcome_and_a_dry_run_writes_nothing(job_tree: Any) -> None:
    base = _job(job_tree, "train.py", {"other.py": ""})
    dry = subprocess.run([*TRAIN, "--dry-run"], env={**os.environ, "SAGEMAKER_BASE_DIR": str(base)}, text=True)
    assert dry.returncode == 2 and not (base / "output" / "failure").exists()  # a real run's error, no file
    (base / "code" / "train.py").write_text("raise ValueError('the real error')\n")
    (base / "output").mkdir(exist_ok=True)
    (base / "output" / "failure").write_text("stale reason")
    (base / "output" / "success").write_text("")
    result = _train(base)
    assert result.returncode == 1 and "removed" in result.stderr
    assert "ValueError: the real error" in (base / "output" / "failure").read_text()
    assert not (base / "output" / "success").exists()
    (base / "code" / "train.py").write_text("")
    assert _train(base).returncode == 0
    assert (base / "output" / "success").exists() and not (base / "output" / "failure").exists()


def test_code_from_a_tarball(job_tree: Any, tmp_path: Path) -> None:
    archive = tmp_path / "sourcedir.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        data = DUMP.encode()
        info = tarfile.TarInfo("train.py")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    base = _job(job_tree, "train.py", {}, lr="2", sagemaker_submit_directory=json.dumps(str(archive)))
    result = _train(base)
    assert result.returncode == 0, result.stderr
    assert json.loads((base / "model" / "out.json").read_text())["argv"] == ["--lr", "2"]


def test_code_from_s3(job_tree: Any, s3_server: S3Server, s3_env: dict[str, str], tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        data = DUMP.encode()
        info = tarfile.TarInfo("train.py")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    bucket = s3_env["SMTOOLKIT_TEST_BUCKET"]
    client = s3_server.client()
    client.put_object(Bucket=bucket, Key="job/source/sourcedir.tar.gz", Body=buffer.getvalue())
    uri = f"s3://{bucket}/job/source/sourcedir.tar.gz"
    base = _job(job_tree, "train.py", {}, lr="3", sagemaker_submit_directory=json.dumps(uri))
    result = _train(base, s3_env)
    assert result.returncode == 0, result.stderr
    assert json.loads((base / "model" / "out.json").read_text())["argv"] == ["--lr", "3"]


def _wheel(folder: Path, name: str, version: str, module_source: str) -> None:
    """A minimal pure-Python wheel, written by hand so tests never need an index."""
    dist = f"{name}-{version}.dist-info"
    files = {
        f"{name}/__init__.py": module_source,
        f"{dist}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        f"{dist}/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = []
    for path, content in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(content.encode()).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(content.encode())}")
    files[f"{dist}/RECORD"] = "\n".join([*record, f"{dist}/RECORD,,"]) + "\n"
    folder.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(folder / f"{name}-{version}-py3-none-any.whl", "w") as wheel:
        for path, content in files.items():
            wheel.writestr(path, content)


def test_requirements_from_a_local_wheel_folder(job_tree: Any, tmp_path: Path) -> None:
    wheels, target = tmp_path / "wheels", tmp_path / "site"
    _wheel(wheels, "smtk_demo_dep", "1.0", "ANSWER = 42\n")
    script = "import smtk_demo_dep, pathlib\npathlib.Path('../model/answer').write_text(str(smtk_demo_dep.ANSWER))\n"
    requirements = f"--no-index\n--find-links {wheels}\nsmtk_demo_dep==1.0\n"
    base = _job(job_tree, "train.py", {"train.py": script, "requirements.txt": requirements})
    (base / "model").mkdir(exist_ok=True)
    # PIP_TARGET keeps the test venv clean: PIP_* settings reach pip, PYTHONPATH reaches the script.
    result = _train(base, {"PIP_TARGET": str(target), "PYTHONPATH": str(target)})
    assert result.returncode == 0, result.stderr
    assert (base / "model" / "answer").read_text() == "42"


def test_failed_install_reports_pips_error(job_tree: Any) -> None:
    base = _job(job_tree, "train.py", {"train.py": "", "requirements.txt": "--no-index\nsmtk-missing-pkg==9.9\n"})
    result = _train(base)
    assert result.returncode == 1
    failure = (base / "output" / "failure").read_text()
    assert failure.startswith("InstallError: install requirements.txt failed with exit code 1")
    assert "smtk-missing-pkg" in failure and "No matching distribution" in failure


def test_sigterm_reaches_the_script_which_checkpoints(job_tree: Any) -> None:
    script = (
        "import signal, sys, time, pathlib\n"
        "def stop(*_):\n"
        "    pathlib.Path('../model/checkpoint').write_text('saved')\n"
        "    sys.exit(0)\n"
        "signal.signal(signal.SIGTERM, stop)\n"
        "pathlib.Path('../model/started').write_text('')\n"
        "time.sleep(60)\n"
    )
    base = _job(job_tree, "train.py", {"train.py": script})
    (base / "model").mkdir(exist_ok=True)
    env = {**os.environ, "SAGEMAKER_BASE_DIR": str(base)}
    with subprocess.Popen(TRAIN, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as launcher:
        deadline = time.monotonic() + 30
        while not (base / "model" / "started").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        launcher.send_signal(signal.SIGTERM)
        launcher.communicate(timeout=30)
    assert launcher.returncode == 0
    assert (base / "model" / "checkpoint").read_text() == "saved"


def test_dry_run_prints_the_plan_and_runs_nothing(job_tree: Any) -> None:
    base = _job(job_tree, "train.py", {"train.py": "raise SystemExit(9)"}, lr="0.1", api_token='"s3cr3t"')
    result = subprocess.run(
        [*TRAIN, "--dry-run"], env={**os.environ, "SAGEMAKER_BASE_DIR": str(base)}, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    plan = json.loads(result.stdout)
    assert plan["argv"][-4:] == ["--api_token", "******", "--lr", "0.1"]
    assert "s3cr3t" not in result.stdout
    assert plan["cwd"] == str(base / "code") and plan["env"]["PYTHONUNBUFFERED"] == "1"
    assert not (base / "output" / "success").exists() and not (base / "output" / "failure").exists()


def test_process_runs_a_command_and_writes_the_message_on_failure(tmp_path: Path) -> None:
    env = {**os.environ, "SAGEMAKER_BASE_DIR": str(tmp_path)}
    ok = subprocess.run(
        [sys.executable, "-m", "smtoolkit", "process", "--", "sh", "-c", "echo out; exit 0"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert ok.returncode == 0 and ok.stdout == "out\n"
    assert not (tmp_path / "output" / "message").exists()
    failed = subprocess.run(
        [
            sys.executable,
            "-m",
            "smtoolkit",
            "process",
            "--",
            "sh",
            "-c",
            "echo 'é' $(head -c 3000 /dev/zero | tr '\\0' x) >&2; exit 4",
        ],
        env=env,
        capture_output=True,
        text=True,
    )
    assert failed.returncode == 4
    message = (tmp_path / "output" / "message").read_bytes()
    assert len(message) <= 1024 and message.decode("utf-8").startswith("UserScriptError:\nExitCode 4")
    missing = subprocess.run(
        [sys.executable, "-m", "smtoolkit", "process", "--", "/nonexistent/cmd"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert missing.returncode == 127
    assert "cannot start '/nonexistent/cmd'" in (tmp_path / "output" / "message").read_text()
    typo_argv = [sys.executable, "-m", "smtoolkit", "process", "--dryrun", "--", "true"]
    typo = subprocess.run(typo_argv, env=env, capture_output=True, text=True)
    assert typo.returncode == 2 and "no such option: --dryrun" in typo.stderr and "cannot start" not in typo.stderr


def test_every_configuration_error_ends_the_same_way(job_tree: Any, tmp_path: Path) -> None:
    """Exit 2, `error:` lines naming the source, and the failure file (README: How commands end)."""
    base = _job(job_tree, "train.py", {"train.py": ""})
    failure = base / "output" / "failure"
    for variables, expected in (
        ({"SMTOOLKIT_GRACE_PERIOD_S": "soon"}, "SMTOOLKIT_GRACE_PERIOD_S: got 'soon': Input should be a valid number"),
        ({"SMTOOLKIT_BACKEND": "torchrunn"}, "SMTOOLKIT_BACKEND: got 'torchrunn': Input should be 'process'"),
    ):
        result = _train(base, variables)
        assert result.returncode == 2 and f"error: environment: {expected}" in result.stderr
        assert failure.read_text().startswith("ConfigError: ") and expected in failure.read_text()
    (base / "input" / "config" / "hyperparameters.json").write_text("{")
    assert _train(base).returncode == 2 and failure.read_text().startswith("ConfigError: ")
    env = subprocess.run([*TRAIN[:-1], "env"], env={**os.environ, "SAGEMAKER_BASE_DIR": str(base)}, text=True)
    assert env.returncode == 2
    process = subprocess.run(
        [*TRAIN[:-1], "process", "--", "true"],
        env={**os.environ, "SAGEMAKER_BASE_DIR": str(tmp_path), "SMTOOLKIT_STDERR_TAIL_KIB": "0"},
        capture_output=True,
        text=True,
    )
    assert process.returncode == 2 and "SMTOOLKIT_STDERR_TAIL_KIB" in process.stderr
    assert (tmp_path / "output" / "message").read_text().startswith("ConfigError: ")


def test_unknown_options_are_refused_naming_the_closest(job_tree: Any) -> None:
    base = _job(job_tree, "train.py", {"train.py": "raise SystemExit(3)"})
    result = subprocess.run(
        [*TRAIN, "--dryrun"], env={**os.environ, "SAGEMAKER_BASE_DIR": str(base)}, text=True, capture_output=True
    )
    assert result.returncode == 2 and "no such option: --dryrun (did you mean --dry-run?)" in result.stderr
    assert not (base / "output" / "failure").exists()  # nothing ran
    train_script = Path(sys.executable).parent / "train"
    for argv in ([str(train_script), "--dryrun"], [*TRAIN, "--dryrun", "--help"]):
        result = subprocess.run(
            argv, env={**os.environ, "SAGEMAKER_BASE_DIR": str(base)}, text=True, capture_output=True
        )
        assert result.returncode == 2 and "--dry-run" in result.stderr, result.stderr


def test_help_names_each_program_once() -> None:
    bin_dir = Path(sys.executable).parent
    for script, usage in (("train", "Usage: train [OPTIONS]"), ("serve", "Usage: serve [OPTIONS]")):
        result = subprocess.run([str(bin_dir / script), "--help"], capture_output=True, text=True)
        assert result.returncode == 0 and result.stdout.startswith(usage), result.stdout
    top = subprocess.run([*TRAIN[:-1], "--help"], capture_output=True, text=True).stdout
    words = " ".join(top.split())  # whole first sentences, however the lines are wrapped
    assert "all on one port with the same inference.py." in words and "(the container's `train`)." in words
    assert "Run a processing container's command with signal forwarding" in top


def test_script_mode_runs_the_submitted_code_in_place(job_tree: Any, tmp_path: Path) -> None:
    """The SDK mounts the user's source at /opt/ml/code and names it; the image bakes its own program."""
    image = tmp_path / "program"
    image.mkdir()
    (image / "train.py").write_text("raise SystemExit('the image ran')\n")
    (image / "helper.py").write_text("IMAGE = True\n")
    base = _job(job_tree, "entry.py", {"entry.py": DUMP.replace('env.hyperparameters["lr"]', "0")}, lr="1")
    user_files = {path.name: path.read_bytes() for path in (base / "code").iterdir()}
    hyperparameters = base / "input" / "config" / "hyperparameters.json"
    hps = {**json.loads(hyperparameters.read_text()), "sagemaker_submit_directory": json.dumps(str(base / "code"))}
    hyperparameters.write_text(json.dumps(hps))
    result = _train(base, {"SAGEMAKER_SUBMIT_DIRECTORY": str(image), "SAGEMAKER_PROGRAM": "train.py"})
    assert result.returncode == 0, result.stderr
    assert json.loads((base / "model" / "out.json").read_text())["cwd"] == str(base / "code")
    assert {path.name: path.read_bytes() for path in (base / "code").iterdir()} == user_files  # nothing written


def test_a_local_source_directory_runs_where_it_is(job_tree: Any, tmp_path: Path) -> None:
    source = tmp_path / "src"
    source.mkdir()
    (source / "train.py").write_text(DUMP.replace('env.hyperparameters["lr"]', "0"))
    base = _job(job_tree, "train.py", {}, sagemaker_submit_directory=json.dumps(str(source)))
    assert _train(base).returncode == 0
    out = json.loads((base / "model" / "out.json").read_text())
    assert out["cwd"] == out["path0"] == str(source)
    assert not (base / "code").exists()  # not copied anywhere


def test_grace_period_then_sigkill(job_tree: Any) -> None:
    script = (
        "import signal, time, pathlib\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "pathlib.Path('../model/started').write_text('')\n"
        "time.sleep(60)\n"
    )
    base = _job(job_tree, "train.py", {"train.py": script})
    (base / "model").mkdir(exist_ok=True)
    env = {**os.environ, "SAGEMAKER_BASE_DIR": str(base), "SMTOOLKIT_GRACE_PERIOD_S": "1"}
    with subprocess.Popen(TRAIN, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as launcher:
        deadline = time.monotonic() + 30
        while not (base / "model" / "started").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        started = time.monotonic()
        launcher.send_signal(signal.SIGTERM)
        launcher.communicate(timeout=30)
    assert launcher.returncode == 137
    assert 0.9 < time.monotonic() - started < 10
    assert "did not stop within the grace period" in (base / "output" / "failure").read_text()


def _snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(folder)): (p.stat().st_mtime_ns, p.stat().st_mode) for p in folder.rglob("*")}


def test_a_local_package_dir_is_never_written_into(
    job_tree: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """pip builds the package in a temporary copy (setuptools writes build/ and *.egg-info in-tree), and a script
    without its executable bit runs through its shebang instead of being chmod-ed."""
    source = tmp_path / "src"
    (source / "demo_pkg").mkdir(parents=True)
    (source / "demo_pkg" / "__init__.py").write_text("ANSWER = 42\n")
    (source / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools"]\nbuild-backend = "setuptools.build_meta"\n'
        '[project]\nname = "smtk-demo-pkg"\nversion = "1.0"\n[tool.setuptools]\npackages = ["demo_pkg"]\n'
    )
    (source / "helper.py").write_text("import os\n")  # imported from the folder: bytecode cached elsewhere
    (source / "train.py").write_text(
        "import demo_pkg, helper\nopen(helper.os.environ['SM_MODEL_DIR'] + '/py', 'w').write('ok')\n"
    )
    (source / "run").write_text('#!/bin/sh\necho "$@" > "$SM_MODEL_DIR/sh"\n')
    (source / "run").chmod(0o644)
    before = _snapshot(source)
    monkeypatch.delenv("PYTHONDONTWRITEBYTECODE", raising=False)  # Python would cache bytecode beside helper.py
    # Offline: setuptools from this venv (no build isolation); PIP_TARGET keeps the test venv clean.
    pythonpath = os.pathsep.join(p for p in (str(tmp_path / "site"), os.environ.get("PYTHONPATH")) if p)
    pip = {"PIP_NO_BUILD_ISOLATION": "0", "PIP_TARGET": str(tmp_path / "site"), "PYTHONPATH": pythonpath}
    for program in ("train.py", "run"):
        base = _job(job_tree, program, {}, sagemaker_submit_directory=json.dumps(str(source)), x="1")
        (base / "model").mkdir(exist_ok=True)
        result = _train(base, pip)
        assert result.returncode == 0, result.stderr
    assert (base / "model" / "py").read_text() == "ok" and (base / "model" / "sh").read_text() == "-x 1\n"
    assert _snapshot(source) == before


def test_code_run_in_place_still_reads_the_installed_bytecode(job_tree: Any, tmp_path: Path) -> None:
    """Keeping the user's folder free of __pycache__ must not make every import compile again: a
    PYTHONPYCACHEPREFIX moved the bytecode lookup of the stdlib and site-packages too (torch: seconds a rank)."""
    source = tmp_path / "src"
    source.mkdir()
    (source / "train.py").write_text(
        "import importlib.util, json, os\n"
        "open(os.environ['SM_MODEL_DIR'] + '/pyc', 'w').write(importlib.util.cache_from_source(json.__file__))\n"
    )
    base = _job(job_tree, "train.py", {}, sagemaker_submit_directory=json.dumps(str(source)))
    (base / "model").mkdir(exist_ok=True)
    result = _train(base)
    assert result.returncode == 0, result.stderr
    assert Path((base / "model" / "pyc").read_text()).parent == Path(json.__file__).parent / "__pycache__"
