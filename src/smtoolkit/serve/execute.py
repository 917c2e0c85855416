"""`serve`: settings from the environment, the plan (serve/plan.py), then its effects in order.

1. warn about misspelt SAGEMAKER_*/SMTOOLKIT_* names, read the settings and plan (`--dry-run` prints the plan
   and stops: nothing fetched, installed, bound or imported);
2. open the listen socket (a port in use is one clear error, before the code is fetched and the model loaded;
   gunicorn adopts the socket, so no other process can take the port meanwhile);
3. fetch the code when the plan says so, then install its dependencies;
4. import the script, give a batch_predict_fn its threads, and run gunicorn (serve.server.run_server), which
   fetches Vertex AI's model (AIP_STORAGE_URI) in the master while answering 503.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
from collections.abc import Mapping
from dataclasses import replace

from smtoolkit.config.launcher import LauncherSettings
from smtoolkit.config.serving import load_serving_settings
from smtoolkit.config.servingnames import check_serving_names
from smtoolkit.errors import ConfigError, did_you_mean
from smtoolkit.logs import set_level
from smtoolkit.paths import JobPaths
from smtoolkit.serve.code import prepare_planned
from smtoolkit.serve.hosting.listen import open_listener
from smtoolkit.serve.hosting.server import run_server
from smtoolkit.serve.plan import ServePlan, plan_serving

logger = logging.getLogger(__name__)

DRY_RUN_FLAG = "--dry-run"
SERVE_OPTIONS = (DRY_RUN_FLAG, "--help")


def serve_dry_run(args: list[str]) -> bool:
    """Whether `serve ARGS` asks for a dry run (a leading `serve`, as the platform appends it, is dropped);
    ConfigError for anything else, naming the closest option."""
    if args[:1] == ["serve"]:
        args = args[1:]
    unknown = [arg for arg in args if arg != DRY_RUN_FLAG]
    if unknown:
        hint = did_you_mean(unknown[0].split("=", 1)[0], SERVE_OPTIONS) if unknown[0].startswith("-") else ""
        raise ConfigError.single("serve", f"takes no arguments but {DRY_RUN_FLAG}, got {' '.join(unknown)}{hint}")
    return DRY_RUN_FLAG in args


def main(argv: list[str] | None = None) -> int:
    """`serve [--dry-run]`. Returns the exit status; an error propagates to the CLI, which ends the command
    (smtoolkit.entry.run_command; logging is configured there)."""
    dry_run = serve_dry_run(list(sys.argv[1:] if argv is None else argv))
    environ = os.environ
    settings = load_serving_settings()
    set_level(settings.container_log_level)
    check_serving_names(environ)
    launcher = LauncherSettings.from_environ(environ)
    plan = plan_serving(settings, environ, JobPaths.from_env(environ), launcher)
    if dry_run:
        sys.stdout.write(plan.render() + "\n")
        return 0
    logger.info("%s", plan.summary())
    logger.debug("serving plan: %s", plan.render())
    return execute(plan, launcher, environ)


def execute(plan: ServePlan, launcher: LauncherSettings, environ: Mapping[str, str]) -> int:
    """Do what `plan` says (see the module docstring); returns the exit status."""
    # The port chosen (Vertex AI: AIP_HTTP_PORT), held from before the code and the model until gunicorn adopts it.
    with open_listener(plan.settings) as listener:
        return _execute(plan, launcher, environ, listener)


def _execute(plan: ServePlan, launcher: LauncherSettings, environ: Mapping[str, str], listener: socket.socket) -> int:
    paths = JobPaths.from_env(environ)
    script = None
    if plan.code is not None:
        script = prepare_planned(plan.code, plan.settings, paths, launcher, environ).script
    if plan.multi_model:
        return run_server(plan.settings, script, plan.model.directory, listener=listener)
    if plan.protocols.vertex is not None:
        vertex = plan.protocols.vertex
        logger.info("Vertex AI: health GET %s, predictions POST %s", vertex.health_path, vertex.predict_path)
    logger.info("Serving protocols: %s on port %d", ", ".join(plan.protocols.names), plan.settings.bind_to_port)
    protocols = replace(plan.protocols, fetch_model=plan.model.fetcher())
    return run_server(plan.settings, script, plan.model.directory, protocols, listener)
