"""The launch plan: a frozen value saying what `train` will do on this host, decided by `plan_training`.

`plan_training` is pure: it reads the job (TrainingEnv) and, when the code is already on this machine, the code
dir's names (entry point, requirements.txt, setup.py); it writes, fetches, installs and spawns nothing. Its plan
is what `--dry-run` prints and what `execute` (launch/execute.py) runs, in order: fetch the code, install its
dependencies, run the engine's argv with the job's and the engine's variables (merged here, once).
"""

from __future__ import annotations

import json
import os
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from smtoolkit import storage
from smtoolkit.config.engine import EngineSettings
from smtoolkit.config.export import to_env_vars
from smtoolkit.config.hyperparameters import to_cli_args
from smtoolkit.config.launcher import LauncherSettings
from smtoolkit.config.training import TrainingEnv
from smtoolkit.dirsync.intermediate import intermediate_destination
from smtoolkit.errors import CodeFetchError
from smtoolkit.launch import entrypoint
from smtoolkit.launch.backends import EnginePlan, build_engine_plan
from smtoolkit.launch.entrypoint import EntryPoint
from smtoolkit.logs import is_secret_key, mask_argv, mask_text
from smtoolkit.usercode.deps import CodeArtifactRepository, InstallStep
from smtoolkit.usercode.install import AFTER_FETCH, import_paths, install_steps, planned_env
from smtoolkit.usercode.warmpool import WarmEnv


@dataclass(frozen=True)
class CodeSource:
    """Where the code comes from and where it runs. A local directory runs where it is (never written into);
    a tarball, a single file or an s3:// tarball is fetched into the job's code dir first."""

    uri: str | None  # what the job named (sagemaker_submit_directory / SAGEMAKER_SUBMIT_DIRECTORY); None: none
    directory: Path
    fetch: bool


@dataclass(frozen=True)
class LaunchPlan:
    code: CodeSource
    install: tuple[InstallStep, ...] | None  # None: decided once the code is fetched (its files are unknown)
    codeartifact_arn: str | None  # pip's index: a CodeArtifact repository, logged in to when installing
    entry_point: EntryPoint
    argv: tuple[str, ...]  # what this host runs (the engine's argv; an MPI worker runs engine.sshd_argv)
    env: Mapping[str, str]  # additions to the inherited environment: the job's variables and the engine's
    engine: EnginePlan
    intermediate_upload: str | None = None  # where output/intermediate is mirrored while the job runs
    warm_env: WarmEnv | None = None  # requirements.txt's env in the warm pool dir: reused, or installed into

    @property
    def cwd(self) -> Path:
        return self.code.directory

    def child_env(self, base: Mapping[str, str] | None = None) -> dict[str, str]:
        return {**(os.environ if base is None else base), **self.env}

    def summary(self) -> str:
        """One line for the start-up log; the whole plan is logged at DEBUG."""
        source = f"{self.code.uri} fetched into " if self.code.fetch else ""
        install = "" if not self.install else f", {len(self.install)} install step(s)"
        engine = (
            self.engine.backend if self.engine.backend == "process" else f"{self.engine.backend}, {self.engine.role}"
        )
        return (
            f"running {self.entry_point.kind} {self.entry_point.name} ({engine})"
            f" in {source}{self.cwd}{install}: {shlex.join(mask_argv(self.argv))[:300]}"
        )

    def describe(self) -> dict[str, Any]:
        """The plan as data, secrets masked, for --dry-run and the DEBUG log."""
        engine = {key: value for key, value in self.engine.describe().items() if key not in ("argv", "env")}
        return {
            "code": {"uri": self.code.uri, "directory": str(self.code.directory), "fetch": self.code.fetch},
            "install": AFTER_FETCH if self.install is None else [shlex.join(step.argv) for step in self.install],
            **({"index": "CodeArtifact " + self.codeartifact_arn} if self.codeartifact_arn else {}),
            **({"warm_pool_env": self.warm_env.describe()} if self.warm_env else {}),
            "entry_point": {"kind": self.entry_point.kind, "name": self.entry_point.name},
            "argv": mask_argv(self.argv),
            "cwd": str(self.cwd),
            "env": {name: _masked_variable(name, value) for name, value in sorted(self.env.items())},
            "engine": engine,
            **({"intermediate_upload": self.intermediate_upload} if self.intermediate_upload else {}),
        }

    def render(self) -> str:
        return json.dumps(self.describe(), indent=2)


def code_source(env: TrainingEnv, fetched: bool = False) -> CodeSource:
    """Where the code runs; `fetched`: the code has been fetched into the code dir already."""
    uri = env.submit_directory
    if not uri or fetched:
        return CodeSource(uri, env.code_dir, False)
    if storage.is_s3_uri(uri):
        return CodeSource(uri, env.code_dir, True)
    if "://" in uri and not uri.lower().startswith(storage.FILE_SCHEME):
        raise CodeFetchError(f"{uri}: unsupported URI scheme; expected s3://, file:// or a local path")
    local = storage.local_path(uri)
    if local.is_dir():
        return CodeSource(uri, local.absolute(), False)
    if not local.exists():
        raise CodeFetchError(f"{uri}: no such file or directory")
    return CodeSource(uri, env.code_dir, True)


def plan_training(
    env: TrainingEnv,
    settings: LauncherSettings,
    engine_settings: EngineSettings,
    environ: Mapping[str, str],
    fetched: bool = False,
) -> LaunchPlan:
    """What `train` runs on this host (see the module docstring); `fetched` once execute has fetched the code."""
    code = code_source(env, fetched)
    known = not code.fetch  # the code's own files can be looked at only where it runs
    hint = entrypoint.misspelt_variables(environ)
    entry = entrypoint.resolve(env.user_entry_point, env.framework_module, code.directory, known, hint)
    arn = settings.ca_repository_arn
    if arn:
        CodeArtifactRepository.from_arn(arn)  # a malformed ARN is a configuration error before anything runs
    install: tuple[InstallStep, ...] | None = None
    warm_env = None
    if not settings.install_requirements:
        install = ()
    elif known:
        warm_env = planned_env(code.directory, environ)
        install = tuple(install_steps(code.directory, environ, warm_env))
    args = to_cli_args(env.hyperparameters, settings.argv_style)
    job_env = {
        **to_env_vars(env, settings.argv_style),
        **import_paths(warm_env, environ, code.directory),  # the warm env's packages win, as if installed
        **_bytecode_elsewhere(code, fetched, environ),
        "PYTHONUNBUFFERED": "1",
    }
    engine = build_engine_plan(env, entry, args, job_env, engine_settings, environ)
    return LaunchPlan(
        code=code,
        install=install,
        codeartifact_arn=arn if install != () else None,
        entry_point=entry,
        argv=engine.argv,
        env={**job_env, **engine.env},
        engine=engine,
        intermediate_upload=intermediate_destination(env),
        warm_env=warm_env,
    )


def _bytecode_elsewhere(code: CodeSource, fetched: bool, environ: Mapping[str, str]) -> dict[str, str]:
    """Code that runs where it is (the user's folder) writes no bytecode beside the sources; a fetched copy is
    ours, and a bytecode setting the job makes is kept. Not PYTHONPYCACHEPREFIX: it moves the lookup of every
    module's bytecode (stdlib, site-packages) to an empty tree, so each process compiled all it imported again
    (torch: +2 to 4 s a rank; with PYTHONDONTWRITEBYTECODE, as in the AWS images, on every start)."""
    if code.fetch or fetched or "PYTHONPYCACHEPREFIX" in environ or environ.get("PYTHONDONTWRITEBYTECODE"):
        return {}
    return {"PYTHONDONTWRITEBYTECODE": "1"}


def _masked_variable(name: str, value: str) -> str:
    if is_secret_key(name):
        return "******"
    if name == "SM_USER_ARGS":
        return json.dumps(mask_argv(json.loads(value)))
    return mask_text(value)
