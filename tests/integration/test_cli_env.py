"""`smtoolkit env` as a user runs it, and what `from smtoolkit import env` costs, in real subprocesses."""

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

SMTOOLKIT = [sys.executable, "-m", "smtoolkit"]


def _run(args: list[str], base: Path, **extra: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SAGEMAKER_BASE_DIR": str(base), **extra}
    return subprocess.run(SMTOOLKIT + args, env=env, capture_output=True, text=True, timeout=60)


def test_table(job_tree: Any) -> None:
    base = job_tree(
        hyperparameters={"lr": "0.1", "db_password": '"hunter2"'},
        channels={"train": {"TrainingInputMode": "File", "ContentType": "text/csv"}},
    )
    result = _run(["env"], base)
    assert result.returncode == 0, result.stderr
    assert "current host" in result.stdout and "algo-1" in result.stdout
    assert "train" in result.stdout and "text/csv" in result.stdout
    assert "hunter2" not in result.stdout and "******" in result.stdout


def test_json(job_tree: Any) -> None:
    base = job_tree(hyperparameters={"lr": "0.1"})
    document = json.loads(_run(["env", "--json"], base).stdout)
    assert document["environment"]["hyperparameters"] == {"lr": 0.1}
    assert document["derived"]["is_master"] is True


def test_export_lines_source_in_a_shell(job_tree: Any) -> None:
    base = job_tree(hyperparameters={"batch-size": "4", "name": '"it\'s a $HOME"', "lr": "0.1"})
    exports = _run(["env", "--export"], base).stdout
    assert "# not a shell name, left out: SM_HP_BATCH-SIZE" in exports
    shell = subprocess.run(
        ["bash", "-c", 'eval "$EXPORTS"; printf "%s\\n%s" "$SM_HP_NAME" "$SM_HPS"'],
        env={"EXPORTS": exports, "PATH": os.environ["PATH"]},
        capture_output=True,
        text=True,
        check=True,
    )
    name, hps = shell.stdout.split("\n")
    assert name == "it's a $HOME"
    assert json.loads(hps) == {"batch-size": 4, "lr": 0.1, "name": "it's a $HOME"}


def test_bad_config_one_line_per_problem(job_tree: Any) -> None:
    base = job_tree(hyperparameters="{", resources={"hosts": ["algo-1"]})
    result = _run(["env"], base)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 2, result.stderr
    assert all(line.startswith("error: ") for line in lines)
    assert "Traceback" not in result.stderr


def test_env_import_is_lazy_and_light(job_tree: Any) -> None:
    """The user-script path imports none of the heavy dependencies and creates nothing."""
    base = job_tree(hyperparameters={"lr": "0.1"})
    probe = (
        "import sys\n"
        "import smtoolkit\n"
        "assert 'pydantic' not in sys.modules, 'import smtoolkit imported pydantic'\n"
        "from smtoolkit import env\n"
        "assert env.hyperparameters == {'lr': 0.1}\n"
        "from smtoolkit import env as again\n"
        "assert again is env\n"
        "heavy = ('boto3', 'botocore', 'flask', 'gunicorn', 'numpy', 'click', 'pydantic_settings')\n"
        "heavy = [m for m in heavy if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    before = sorted(p.relative_to(base) for p in base.rglob("*"))
    result = subprocess.run(
        [sys.executable, "-c", probe],
        env={**os.environ, "SAGEMAKER_BASE_DIR": str(base)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert sorted(p.relative_to(base) for p in base.rglob("*")) == before


def test_a_base_dir_that_does_not_exist_is_an_error(tmp_path: Path) -> None:
    result = subprocess.run([*SMTOOLKIT, "env", "--base-dir", str(tmp_path / "typo")], capture_output=True, text=True)
    assert result.returncode == 2 and f"error: --base-dir: {tmp_path / 'typo'}: no such directory" in result.stderr
    result = _run(["env"], tmp_path / "typo")
    assert result.returncode == 2 and "error: SAGEMAKER_BASE_DIR: " in result.stderr


def test_two_formats_are_refused_and_a_misspelt_setting_is_named(job_tree: Any) -> None:
    base = job_tree(hyperparameters={"lr": "0.1"})
    result = _run(["env", "--json", "--export"], base)
    assert result.returncode == 2 and "--json and --export" in result.stderr and not result.stdout
    result = _run(["env"], base, SMTOOLKIT_GRACE_PERIOD="3")
    assert result.returncode == 0
    assert "SMTOOLKIT_GRACE_PERIOD is not a setting" in result.stderr and "SMTOOLKIT_GRACE_PERIOD_S?" in result.stderr
