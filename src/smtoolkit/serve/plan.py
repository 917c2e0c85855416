"""The serving plan: a frozen value saying what `serve` will do, decided by `plan_serving`.

`plan_serving` is pure: it reads the settings, the environment and, when the code is already on this machine,
the code dir's names (the script, requirements.txt, setup.py); it fetches, installs, binds and imports nothing.
Its plan is what `serve --dry-run` prints and what `execute` (serve/execute.py) runs. What needs the fetched code
or the imported script (the install steps of fetched code; the threads a batch_predict_fn asks for) is recorded
as decided at start.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from smtoolkit.config.launcher import LauncherSettings
from smtoolkit.config.protocols import OIP
from smtoolkit.config.serving import ServingSettings
from smtoolkit.errors import ConfigError
from smtoolkit.logs import mask_text, masked
from smtoolkit.paths import JobPaths
from smtoolkit.serve.app import Protocols
from smtoolkit.serve.code import CodePlan, has_endpoint_code, plan_code
from smtoolkit.serve.hosting.server import gunicorn_options
from smtoolkit.serve.platforms import ModelSource, plan_protocols
from smtoolkit.serve.protocols.vertex.routes import vertex_routes
from smtoolkit.serve.protocols.vertex.settings import VertexSettings
from smtoolkit.usercode.install import AFTER_FETCH

AFTER_IMPORT = "decided from the script at start"
CONTRACT_ROUTES = ("GET /ping", "POST /invocations", "GET /execution-parameters")
MULTI_MODEL_ROUTES = (
    "GET /ping",
    "POST /models",
    "GET /models",
    "GET|DELETE /models/{name}",
    "POST /models/{name}/invoke",
    "POST /invocations (X-Amzn-SageMaker-Target-Model)",
)
OIP_ROUTES = (
    "GET /v2",
    "GET /v2/health/live",
    "GET /v2/health/ready",
    "GET /v2/models/{name}[/versions/{version}][/ready]",
    "POST /v2/models/{name}[/versions/{version}]/infer",
)
OIP_REPOSITORY_ROUTES = ("POST /v2/repository/index", "POST /v2/repository/models/{name}/load|unload")


@dataclass(frozen=True)
class ServePlan:
    settings: ServingSettings  # as served: Vertex AI's port applied; the batching threads are decided at start
    protocols: Protocols  # without its fetch_model: that is `model`'s, done by execute
    model: ModelSource
    code: CodePlan | None  # None: a multi-model endpoint without a script of its own

    @property
    def multi_model(self) -> bool:
        return self.settings.multi_model

    def routes(self) -> dict[str, list[str]]:
        """Each protocol's routes."""
        oip = self.settings.oip_model_name
        routes = {"sagemaker": list(MULTI_MODEL_ROUTES if self.multi_model else CONTRACT_ROUTES)}
        if self.protocols.vertex is not None:
            routes["vertex"] = [f"{method} {path}" for method, path, _ in vertex_routes(self.protocols.vertex)]
        if self.protocols.oip:
            extra = OIP_REPOSITORY_ROUTES if self.multi_model else ()
            routes["oip"] = [route.replace("{name}", oip) if not self.multi_model else route for route in OIP_ROUTES]
            routes["oip"] += extra
        return routes

    def describe(self) -> dict[str, Any]:
        """The plan as data, secrets masked, for --dry-run and the DEBUG log."""
        settings = self.settings
        return {
            "protocols": self.routes(),
            "listen": {"address": settings.bind_to_address, "port": settings.bind_to_port},
            "model": {
                "directory": str(self.model.directory),
                **({"uri": mask_text(self.model.uri), "fetch_at_start": self.model.fetch} if self.model.uri else {}),
                "preload": settings.preload_model,
            },
            "code": _describe_code(self.code),
            "multi_model": {
                "store": str(self.model.directory),
                "memory_budget_mb": settings.mme_memory_budget_mb,
                "memory_margin_percent": settings.mme_memory_margin_percent,
            }
            if self.multi_model
            else None,
            "batching": {
                "max_batch_size": settings.max_batch_size,
                "max_batch_wait_ms": settings.max_batch_wait_ms,
                "threads": AFTER_IMPORT + " (batch_predict_fn: up to max_batch_size a worker)",
            },
            "payload_limit_bytes": settings.max_payload_bytes,
            "startup_timeout_s": settings.startup_timeout,
            "gunicorn": _describe_gunicorn(settings),
            "settings": _masked_settings(settings),
        }

    def render(self) -> str:
        return json.dumps(self.describe(), indent=2)

    def summary(self) -> str:
        """One line for the start-up log."""
        protocols = ", ".join(self.protocols.names)
        script = self.code.script if self.code and self.code.script else AFTER_FETCH if self.code else "none"
        kind = "multi-model" if self.multi_model else "single model"
        return f"serving ({kind}; {protocols}) on port {self.settings.bind_to_port}, script {script}"


def plan_serving(
    settings: ServingSettings, environ: Mapping[str, str], paths: JobPaths, launcher: LauncherSettings
) -> ServePlan:
    """What `serve` runs (see the module docstring); a bad setting is a ConfigError, a missing script an
    EntryPointError, before anything is fetched or bound."""
    if settings.multi_model:  # SageMaker's routes (and OIP's when chosen); never Vertex AI's port or model
        protocols = Protocols(oip=OIP in settings.serve_protocols)
        code = plan_code(settings, paths, launcher, environ) if has_endpoint_code(settings, paths) else None
        return ServePlan(settings, protocols, ModelSource(paths.model_dir), code)
    settings, protocols, model = plan_protocols(settings, paths.model_dir, environ)
    if protocols.vertex is not None:
        _check_vertex_routes(protocols.vertex, protocols)
    return ServePlan(settings, protocols, model, plan_code(settings, paths, launcher, environ))


def _check_vertex_routes(vertex: VertexSettings, protocols: Protocols) -> None:
    """ConfigError when a route set by AIP_* is SageMaker's (as create_app finds at start, said before it)."""
    for method, path, variable in vertex_routes(vertex):
        if f"{method} {path}" in CONTRACT_ROUTES:
            raise ConfigError.single(
                "environment", f"{method} {path} is already a route of {' or '.join(protocols.names)}", variable
            )


def _describe_code(code: CodePlan | None) -> dict[str, Any] | None:
    if code is None:
        return None
    source = code.source
    return {
        "search_dirs": [str(directory) for directory in source.search_dirs],
        **({"fetch": {"uri": mask_text(source.fetch_uri), "into": str(source.fetch_into)}} if source.fetch_uri else {}),
        "script": AFTER_FETCH if code.script is None else str(code.script),
        "install": AFTER_FETCH if code.install is None else [shlex.join(step.argv) for step in code.install],
        **({"index": "CodeArtifact " + code.codeartifact_arn} if code.codeartifact_arn else {}),
        **({"warm_pool_env": code.warm_env.describe()} if code.warm_env else {}),
    }


def _masked_settings(settings: ServingSettings) -> dict[str, Any]:
    """The settings as data, secret-looking names and URI parameters (a presigned URL's token) masked."""
    return {
        name: mask_text(value) if isinstance(value, str) else value
        for name, value in masked(settings.model_dump(mode="json")).items()
    }


def _describe_gunicorn(settings: ServingSettings) -> dict[str, Any]:
    options = gunicorn_options(settings)
    options["logger_class"] = options["logger_class"].__name__
    return options
