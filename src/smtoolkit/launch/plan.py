"""The launch plan: a frozen value saying what will run, with what environment, where. Printed by --dry-run."""

from __future__ import annotations

import json
import os
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from smtoolkit.config.export import to_env_vars
from smtoolkit.config.hyperparameters import ArgvStyle, to_cli_args
from smtoolkit.config.training import TrainingEnv
from smtoolkit.launch.entrypoint import EntryPoint
from smtoolkit.logs import is_secret_key, mask_argv, mask_text
from smtoolkit.usercode.deps import InstallStep

if TYPE_CHECKING:
    from smtoolkit.launch.backends import EnginePlan, EngineSettings


@dataclass(frozen=True)
class LaunchPlan:
    argv: tuple[str, ...]
    env: Mapping[str, str]  # additions to the inherited environment
    cwd: Path
    entry_point: EntryPoint
    code_uri: str | None = None
    install: tuple[InstallStep, ...] = field(default_factory=tuple)
    engine: EnginePlan | None = None  # how the distributed engine runs it (None: a plain process)

    def child_env(self, base: Mapping[str, str] | None = None) -> dict[str, str]:
        return {**(os.environ if base is None else base), **self.env}

    def describe(self) -> dict[str, Any]:
        """The plan as data, secrets masked, for --dry-run and the start-up log."""
        return {
            "code": self.code_uri or str(self.cwd),
            "install": [shlex.join(step.argv) for step in self.install],
            "entry_point": {"kind": self.entry_point.kind, "name": self.entry_point.name},
            "argv": mask_argv(self.argv),
            "cwd": str(self.cwd),
            "env": {name: _masked_variable(name, value) for name, value in sorted(self.env.items())},
            **({"engine": self._engine_description()} if self.engine else {}),
        }

    def _engine_description(self) -> dict[str, Any]:
        assert self.engine is not None
        described = self.engine.describe()
        if "argv" in described:
            described["argv"] = mask_argv(described["argv"])
        if "env" in described:
            described["env"] = {name: _masked_variable(name, value) for name, value in described["env"].items()}
        return described

    def render(self) -> str:
        return json.dumps(self.describe(), indent=2)


def build_plan(
    env: TrainingEnv,
    entry_point: EntryPoint,
    install: list[InstallStep],
    argv_style: ArgvStyle = "python",
    inherited_pythonpath: str | None = None,
) -> LaunchPlan:
    code_dir = env.code_dir
    pythonpath = os.pathsep.join(p for p in (str(code_dir), inherited_pythonpath) if p)
    additions = {**to_env_vars(env, argv_style), "PYTHONPATH": pythonpath, "PYTHONUNBUFFERED": "1"}
    code_uri = env.submit_directory if env.submit_directory and env.submit_directory != str(code_dir) else None
    return LaunchPlan(
        argv=entry_point.argv(to_cli_args(env.hyperparameters, argv_style)),
        env=additions,
        cwd=code_dir,
        entry_point=entry_point,
        code_uri=code_uri,
        install=tuple(install),
    )


def with_engine(
    plan: LaunchPlan,
    env: TrainingEnv,
    argv_style: ArgvStyle,
    settings: EngineSettings,
    environ: Mapping[str, str],
) -> LaunchPlan:
    """The plan with the engine that runs it on this host (process, torchrun or mpi, by the hyperparameters)."""
    from smtoolkit.launch.backends import build_engine_plan

    args = to_cli_args(env.hyperparameters, argv_style)
    return replace(plan, engine=build_engine_plan(env, plan.entry_point, args, plan.env, settings, environ))


def _masked_variable(name: str, value: str) -> str:
    if is_secret_key(name):
        return "******"
    if name == "SM_USER_ARGS":
        return json.dumps(mask_argv(json.loads(value)))
    return mask_text(value)
