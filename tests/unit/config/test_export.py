"""The SM_* export against dumps made by running sagemaker-training 5.1.4 on the same job trees."""

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from smtoolkit.config.export import format_value, to_env_vars
from smtoolkit.config.training import TrainingEnv

GOLDEN = Path(__file__).parents[2] / "data" / "golden"
GOLDEN_BASE = "/tmp/smtoolkit-golden/opt/ml"

# Where we differ from 5.1.4 on purpose (each is a defect there), per case: name -> (theirs, ours).
DELIBERATE: dict[str, dict[str, tuple[Any, Any]]] = {
    "full": {},
    "hetero": {
        "SAGEMAKER_REGION": ("", "eu-west-1"),  # 5.1.4 ignores AWS_REGION
        # The job's sagemaker_program wins over the image's SAGEMAKER_PROGRAM (5.1.4 lets the image's win).
        "SM_MODULE_NAME": ("entry/run", "train"),
        "SM_USER_ENTRY_POINT": ("entry/run.py", "train.py"),
    },
    "minimal": {"SM_MODULE_NAME": ("None", "")},  # 5.1.4 exports str(None)
    # Script mode in an image that bakes SAGEMAKER_SUBMIT_DIRECTORY/SAGEMAKER_PROGRAM: the submitted code wins.
    "scriptmode": {},
}
TRAINING_ENV_DELIBERATE: dict[str, dict[str, tuple[Any, Any]]] = {
    "full": {"is_modelparallel_enabled": (None, False)},
    "hetero": {
        "is_modelparallel_enabled": (None, True),  # mp_parameters is set
        "module_name": ("entry/run", "train"),
        "user_entry_point": ("entry/run.py", "train.py"),
    },
    "minimal": {"is_modelparallel_enabled": (None, False), "module_name": ("None", None)},
    # 5.1.4 reads job_name from TRAINING_JOB_NAME only, not from the sagemaker_job_name the SDK sends
    "scriptmode": {"is_modelparallel_enabled": (None, False), "job_name": (None, "script-mode-job")},
}
ADDED = {"SM_HOST_COUNT", "SM_CURRENT_HOST_RANK", "SM_MASTER_ADDR", "SM_MASTER_PORT"}


def _ours(case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[dict[str, str], dict[str, Any], str]:
    base = tmp_path / "opt" / "ml"
    shutil.copytree(GOLDEN / "cases" / case, base)
    hyperparameters = base / "input" / "config" / "hyperparameters.json"  # may name a path in the job tree
    hyperparameters.write_text(hyperparameters.read_text().replace(GOLDEN_BASE, str(base)))
    environ_file = base / "environ.json"
    for name, value in (json.loads(environ_file.read_text()) if environ_file.exists() else {}).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("SAGEMAKER_BASE_DIR", str(base))
    golden = json.loads((GOLDEN / f"{case}.json").read_text())
    golden.pop("__user_args__")
    golden = {key: value.replace(GOLDEN_BASE, str(base)) for key, value in golden.items()}
    cpus = int(golden["SM_NUM_CPUS"])
    return to_env_vars(TrainingEnv.load(reported_num_cpus=cpus)), golden, str(base)


@pytest.mark.parametrize("case", ["full", "hetero", "minimal", "scriptmode"])
def test_every_variable_matches_sagemaker_training(case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ours, golden, _ = _ours(case, tmp_path, monkeypatch)
    assert set(ours) == set(golden) | ADDED
    for name, theirs in golden.items():
        if name == "SM_TRAINING_ENV":
            continue
        expected = DELIBERATE[case].get(name, (theirs, theirs))
        assert (theirs, ours[name]) == expected, name


@pytest.mark.parametrize("case", ["full", "hetero", "minimal", "scriptmode"])
def test_training_env_matches_key_for_key(case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ours, golden, _ = _ours(case, tmp_path, monkeypatch)
    theirs_env = json.loads(golden["SM_TRAINING_ENV"])
    ours_env = json.loads(ours["SM_TRAINING_ENV"])
    assert sorted(ours_env) == sorted(theirs_env)
    for key, theirs in theirs_env.items():
        expected = TRAINING_ENV_DELIBERATE[case].get(key, (theirs, theirs))
        assert (theirs, ours_env[key]) == expected, key
    if case == "full":  # compact, sorted, ASCII JSON: same bytes once the deliberate key is aligned
        assert ours["SM_TRAINING_ENV"] == golden["SM_TRAINING_ENV"].replace(
            '"is_modelparallel_enabled":null', '"is_modelparallel_enabled":false'
        )


def test_added_distribution_variables(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ours, _, _ = _ours("hetero", tmp_path, monkeypatch)
    assert (ours["SM_MASTER_ADDR"], ours["SM_CURRENT_HOST_RANK"], ours["SM_HOST_COUNT"]) == (
        "algo-3",
        "0",
        "2",
    )
    assert ours["SM_MASTER_PORT"] == "7777"


def test_topology_is_exported_only_when_present(job_tree: Any) -> None:
    job_tree(
        resources={
            "current_host": "a",
            "hosts": ["a"],
            "topology": [{"hostName": "a", "capacityUnitId": "u"}],
        }
    )
    assert json.loads(to_env_vars(TrainingEnv.load())["SM_TOPOLOGY"]) == [{"capacityUnitId": "u", "hostName": "a"}]


def test_format_value() -> None:
    assert [format_value(v) for v in ("s", None, 1, 0.5, True, [1], {"b": 1, "a": "é"}, b"\xff")] == [
        "s",
        "",
        "1",
        "0.5",
        "true",
        "[1]",
        '{"a":"\\u00e9","b":1}',
        "\xff",
    ]


def test_json_argv_style_is_opt_in(job_tree: Any) -> None:
    job_tree(hyperparameters={"flag": "true", "layers": "[1, 2]"})
    assert json.loads(to_env_vars(TrainingEnv.load())["SM_USER_ARGS"]) == [
        "--flag",
        "True",
        "--layers",
        "[1, 2]",
    ]
    assert json.loads(to_env_vars(TrainingEnv.load(), "json")["SM_USER_ARGS"]) == [
        "--flag",
        "true",
        "--layers",
        "[1, 2]",
    ]
