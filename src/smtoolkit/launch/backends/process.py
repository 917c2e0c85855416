"""The plain backend: one process on this host, the entry point's own argv (the launcher's original behaviour)."""

from __future__ import annotations

from smtoolkit.launch.backends.base import EngineInputs, EnginePlan, Role, role_of


class ProcessBackend:
    def build(self, inputs: EngineInputs) -> EnginePlan:
        role: Role = "bystander" if role_of(inputs.env) == "bystander" else "single"
        return EnginePlan(backend="process", role=role, argv=inputs.entry.argv(inputs.args))


BACKEND = ProcessBackend()
