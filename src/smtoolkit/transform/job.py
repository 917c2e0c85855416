"""One transform job from the command's options: the request, the server (given or started), the
settings resolved against /execution-parameters, the run, the summary and the exit status."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from smtoolkit.errors import ConfigError
from smtoolkit.logs import masked
from smtoolkit.transform.client import execution_parameters, parse_endpoint, wait_for_ping
from smtoolkit.transform.io import input_problems, location_problems, warn_replaced
from smtoolkit.transform.request import TransformRequest, load_request
from smtoolkit.transform.runner import Endpoint, run_transform
from smtoolkit.transform.server import ServeOptions, served
from smtoolkit.transform.settings import LocalOptions, resolve

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TransformOptions:
    request: TransformRequest
    endpoint: str | None
    serve: ServeOptions | None
    local: LocalOptions = LocalOptions()
    progress: bool | None = None
    dry_run: bool = False
    startup_timeout_s: float = 600.0
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))

    @classmethod
    def from_cli(cls, options: Mapping[str, Any], flags: dict[str, Any]) -> TransformOptions:
        path: Path | None = options["request_file"]
        text = None
        if path is not None:
            try:
                text = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise ConfigError.single(str(path), f"cannot be read: {exc}") from None
        request = load_request(text, str(path), flags)
        if bool(options["endpoint"]) == bool(options["start_server"]):
            raise ConfigError.single("command line", "give exactly one of --endpoint URL and --serve")
        serve = None
        if options["start_server"]:
            serve = ServeOptions(
                options["model_dir"],
                options["code_dir"],
                options["program"],
                options["workers"],
                options["startup_timeout"],
            )
        local = LocalOptions(options["slice_end"] == "inclusive", options["single_record_framing"])
        return cls(
            request,
            options["endpoint"],
            serve,
            local,
            options["progress"],
            options["dry_run"],
            options["startup_timeout"],
        )


@contextlib.contextmanager
def _server(options: TransformOptions) -> Iterator[tuple[str, int]]:
    if options.serve is not None:
        with served(options.request, options.serve, options.environ) as address:
            yield address
        return
    host, port = parse_endpoint(options.endpoint or "")
    wait_for_ping(host, port, options.startup_timeout_s)
    yield host, port


def run_job(options: TransformOptions) -> int:
    """0 when every file was transformed, 1 otherwise (the summary lists the failures)."""
    if options.dry_run:
        missing = input_problems(options.request, "--input")
        if missing:
            raise ConfigError(missing)
        settings = resolve(options.request, None, options.local)
        print(json.dumps(settings.describe(), indent=2))
        return 0
    problems = location_problems(options.request, options.environ, "--input", "--output")
    if problems:
        raise ConfigError(problems)
    warn_replaced(options.request.TransformOutput.S3OutputPath)
    with _server(options) as (host, port):
        served_parameters = execution_parameters(host, port)
        settings = resolve(options.request, served_parameters, options.local)
        logger.info("Transform settings: %s", json.dumps(masked(settings.describe())))
        interactive = options.progress if options.progress is not None else sys.stderr.isatty()
        summary = run_transform(settings, Endpoint(host, port), options.environ, interactive)
    for line in summary.lines():
        (logger.info if summary.ok else logger.error)("%s", line)
    return 0 if summary.ok else 1
