"""plan_training: a pure function of the job and the settings (no subprocess, no fetch, no write)."""

from __future__ import annotations

import json
import os
import tarfile
from pathlib import Path
from typing import Any

import pytest

from smtoolkit.config.engine import EngineSettings
from smtoolkit.config.launcher import LauncherSettings
from smtoolkit.config.training import TrainingEnv
from smtoolkit.errors import CodeFetchError, ConfigError, EntryPointError
from smtoolkit.launch.plan import LaunchPlan, plan_training
from smtoolkit.launch.rank_main import RANK_DIR_VARIABLE
from smtoolkit.usercode.install import AFTER_FETCH
from smtoolkit.usercode.sitedirs import HOOK_DIR, SITE_DIRS_VARIABLE


def _plan(install_requirements: bool = True, **environ: str) -> LaunchPlan:
    merged = {**os.environ, **environ}
    env = TrainingEnv.load(environ=merged)
    settings = LauncherSettings.from_environ(merged, install_requirements=install_requirements)
    return plan_training(env, settings, EngineSettings.from_environ(merged), merged)


def _tree(root: Path) -> list[tuple[str, int]]:
    return sorted((str(path), path.stat().st_mode) for path in root.rglob("*"))


def _job(job_tree: Any, program: str = "train.py", **hps: str) -> Path:
    base: Path = job_tree(hyperparameters={"sagemaker_program": json.dumps(program), "lr": "0.1", **hps})
    return base


def test_code_in_the_code_dir_with_requirements(job_tree: Any) -> None:
    base = _job(job_tree)
    code = base / "code"
    code.mkdir()
    (code / "train.py").write_text("")
    (code / "requirements.txt").write_text("six\n")
    before = _tree(base)
    plan = _plan()
    assert _tree(base) == before  # planning wrote nothing
    assert not plan.code.fetch and plan.cwd == code
    [step] = plan.install or ()
    assert step.argv[-2:] == ("-r", "requirements.txt") and step.cwd == code
    assert plan.describe()["install"] == [" ".join(step.argv)]  # what --dry-run prints: the steps execute runs
    assert plan.argv[-3:] == ("train.py", "--lr", "0.1") and plan.entry_point.kind == "script"
    assert plan.env["PYTHONPATH"].split(os.pathsep)[0] == str(code)


def test_a_warm_pool_env_is_planned_from_what_is_on_disk(job_tree: Any, tmp_path: Path) -> None:
    base = _job(job_tree)
    (base / "code").mkdir()
    (base / "code" / "train.py").write_text("")
    (base / "code" / "requirements.txt").write_text("six\n")
    warm = tmp_path / "warm"
    plan = _plan(SAGEMAKER_MANAGED_WARMPOOL_CACHE_DIRECTORY=str(warm))
    assert not warm.exists()  # planning wrote nothing
    assert plan.warm_env is not None and not plan.warm_env.reuse
    [step] = plan.install or ()
    assert step.into == plan.warm_env.directory and "--prefix" in step.argv
    described = plan.describe()
    assert described["warm_pool_env"] == {"install into": str(plan.warm_env.directory)}
    # The env's packages come right after the code dir, before the image's (after the hook that runs its .pth
    # files: usercode.sitedirs); its scripts first on PATH.
    assert plan.env["PYTHONPATH"].split(os.pathsep)[:3] == [HOOK_DIR, str(base / "code"), str(plan.warm_env.site)]
    assert plan.env[SITE_DIRS_VARIABLE] == str(plan.warm_env.site)
    assert plan.env["PATH"].split(os.pathsep)[0] == str(plan.warm_env.bin)

    plan.warm_env.directory.mkdir(parents=True)
    plan.warm_env.record.write_text('{"distributions": {}}')  # what a complete install leaves
    again = _plan(SAGEMAKER_MANAGED_WARMPOOL_CACHE_DIRECTORY=str(warm))
    assert again.install == () and again.describe()["warm_pool_env"] == {"reuse": str(plan.warm_env.directory)}
    assert again.env["PYTHONPATH"] == plan.env["PYTHONPATH"]


def test_a_local_directory_runs_in_place(job_tree: Any, tmp_path: Path) -> None:
    source = tmp_path / "src"
    source.mkdir()
    (source / "train.py").write_text("")
    _job(job_tree, sagemaker_submit_directory=json.dumps(str(source)))
    plan = _plan()
    assert (plan.code.directory, plan.code.fetch, plan.cwd) == (source, False, source)
    assert plan.env["SM_MODULE_DIR"] == str(source) and plan.env["PYTHONPATH"].startswith(str(source))


def test_script_mode_in_an_image_with_its_own_program(job_tree: Any, tmp_path: Path) -> None:
    """The SDK's script mode mounts the user's code at /opt/ml/code and names it: the image's ENV loses."""
    image = tmp_path / "program"
    image.mkdir()
    (image / "train.py").write_text("")
    base = _job(job_tree, "entry.py")
    code = base / "code"
    code.mkdir()
    (code / "entry.py").write_text("")
    hps = json.loads((base / "input" / "config" / "hyperparameters.json").read_text())
    hps["sagemaker_submit_directory"] = json.dumps(str(code))
    (base / "input" / "config" / "hyperparameters.json").write_text(json.dumps(hps))
    plan = _plan(SAGEMAKER_SUBMIT_DIRECTORY=str(image), SAGEMAKER_PROGRAM="train.py")
    assert (plan.cwd, plan.code.fetch, plan.entry_point.name) == (code, False, "entry.py")


@pytest.mark.parametrize("kind", ["s3", "tarball"])
def test_fetched_code_is_planned_by_names_and_installs_after_fetch(job_tree: Any, tmp_path: Path, kind: str) -> None:
    archive = tmp_path / "sourcedir.tar.gz"
    with tarfile.open(archive, "w:gz"):
        pass
    uri = "s3://bucket/job/sourcedir.tar.gz" if kind == "s3" else str(archive)
    base = _job(job_tree, sagemaker_submit_directory=json.dumps(uri))
    plan = _plan()
    assert plan.code.fetch and plan.code.uri == uri and plan.cwd == base / "code"
    assert plan.install is None and plan.describe()["install"] == AFTER_FETCH
    assert not (base / "code").exists()


def test_bad_code_sources_and_entry_points_are_found_by_the_plan(job_tree: Any, tmp_path: Path) -> None:
    _job(job_tree, sagemaker_submit_directory=json.dumps(str(tmp_path / "nowhere")))
    with pytest.raises(CodeFetchError, match="nowhere: no such file or directory"):
        _plan()
    _job(job_tree, sagemaker_submit_directory='"ftp://host/code.tar.gz"')
    with pytest.raises(CodeFetchError, match="unsupported URI scheme"):
        _plan()
    _job(job_tree)
    with pytest.raises(EntryPointError, match="not found"):
        _plan()


def test_codeartifact_is_checked_but_not_logged_in_to(job_tree: Any) -> None:
    base = _job(job_tree)
    (base / "code").mkdir()
    (base / "code" / "train.py").write_text("")
    (base / "code" / "requirements.txt").write_text("six\n")
    arn = "arn:aws:codeartifact:us-west-2:123456789012:repository/dom/repo"
    plan = _plan(CA_REPOSITORY_ARN=arn)
    assert plan.codeartifact_arn == arn and all("PIP_INDEX_URL" not in step.env for step in plan.install or ())
    with pytest.raises(ConfigError, match="CA_REPOSITORY_ARN"):
        _plan(CA_REPOSITORY_ARN="arn:nope")
    assert _plan(install_requirements=False, CA_REPOSITORY_ARN=arn).install == ()


def test_the_engine_is_planned_once_with_its_variables_merged(job_tree: Any) -> None:
    hosts = {"current_host": "algo-1", "hosts": ["algo-1", "algo-2"]}
    base = job_tree(
        hyperparameters={"sagemaker_program": '"train.py"', "sagemaker_torch_distributed_enabled": "true"},
        resources=hosts,
    )
    (base / "code").mkdir()
    (base / "code" / "train.py").write_text("")
    plan = _plan()
    assert plan.engine.backend == "torchrun" and plan.argv == plan.engine.argv
    assert plan.env[RANK_DIR_VARIABLE] == plan.engine.rank_dir and "SM_HPS" in plan.env
    assert "argv" not in plan.describe()["engine"]  # printed once, as the plan's own argv
    assert "(torchrun, master)" in plan.summary()


def test_a_misspelt_entry_point_variable_is_named_when_there_is_no_entry_point(job_tree: Any) -> None:
    job_tree(hyperparameters={})
    with pytest.raises(EntryPointError) as raised:
        _plan(SAGEMAKER_PROGAM="train.py", SAGEMAKER_REGION="eu-west-1", SAGEMAKER_TRAINING_MODUL="a.b:c")
    message = str(raised.value)
    assert "SAGEMAKER_PROGAM is set (did you mean SAGEMAKER_PROGRAM?)" in message
    assert "did you mean SAGEMAKER_TRAINING_MODULE?" in message and "SAGEMAKER_REGION" not in message
