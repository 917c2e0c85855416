"""The launch plan: a frozen value saying what will run, with what environment, where. Printed by --dry-run."""

from __future__ import annotations

import json
import os
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from smtoolkit.config.export import to_env_vars
from smtoolkit.config.hyperparameters import ArgvStyle, to_cli_args
from smtoolkit.config.training import TrainingEnv
from smtoolkit.launch.deps import InstallStep
from smtoolkit.launch.entrypoint import EntryPoint
from smtoolkit.logs import is_secret_key, mask_argv, mask_text


@dataclass(frozen=True)
class LaunchPlan:
    argv: tuple[str, ...]
    env: Mapping[str, str]  # additions to the inherited environment
    cwd: Path
    entry_point: EntryPoint
    code_uri: str | None = None
    install: tuple[InstallStep, ...] = field(default_factory=tuple)

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
        }

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


def _masked_variable(name: str, value: str) -> str:
    if is_secret_key(name):
        return "******"
    if name == "SM_USER_ARGS":
        return json.dumps(mask_argv(json.loads(value)))
    return mask_text(value)
