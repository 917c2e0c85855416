"""The plain backend: one process on this host, the entry point's own argv (the launcher's original behaviour)."""

from __future__ import annotations

from collections.abc import Mapping

from smtoolkit.config.training import TrainingEnv
from smtoolkit.launch.backends.base import EnginePlan, role_of
from smtoolkit.launch.backends.settings import EngineSettings
from smtoolkit.launch.entrypoint import EntryPoint


class ProcessBackend:
    def build(
        self,
        env: TrainingEnv,
        entry: EntryPoint,
        args: list[str],
        job_env: Mapping[str, str],
        settings: EngineSettings,
        environ: Mapping[str, str],
    ) -> EnginePlan:
        role = role_of(env)
        return EnginePlan(
            backend="process", role="bystander" if role == "bystander" else "single", argv=entry.argv(args)
        )


BACKEND = ProcessBackend()
