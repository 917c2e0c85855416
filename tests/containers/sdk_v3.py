"""The SageMaker Python SDK v3 for the container tests, in a venv of its own: it cannot share a venv with SDK v2
(both are the `sagemaker` distribution), and its dependency tree (sagemaker-core, -train, -serve, -mlops with
mlflow, pyarrow, ...) has no business in the project's test venv. Made once from PyPI under the container cache
(work/containers, ignored by git), remade when the requirement changes.

Its runs never reach the network: telemetry is switched off in an SDK config file of the test's own (user and
admin config both pointed at it), AWS credentials and region are dummies with no AWS config files, and HTTP(S)
proxies point at a closed port, so a call that tried to leave the machine would fail at once. Local container mode
needs no AWS call with a local image and local data.
"""

from __future__ import annotations

import logging
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from tests.containers.engine import EngineError, run_quiet

logger = logging.getLogger(__name__)

SDK_REQUIREMENT = "sagemaker>=3.27,<4"
SDK_CONFIG = """SchemaVersion: '1.0'
SageMaker:
  PythonSDK:
    Modules:
      TelemetryOptOut: true
"""
CLOSED_PORT_PROXY = "http://127.0.0.1:9"


def sdk_v3_python(cache_dir: Path) -> Path:
    """The python of the cached SDK v3 venv (made when missing or made for another requirement: 2-4 minutes)."""
    venv = cache_dir / "sagemaker-sdk-v3"
    python = venv / "bin" / "python"
    marker = venv / ".requirement"
    if marker.is_file() and marker.read_text() == SDK_REQUIREMENT and python.exists():
        return python
    logger.info("creating %s with %s from PyPI", venv, SDK_REQUIREMENT)
    run_quiet([sys.executable, "-m", "venv", "--clear", str(venv)])
    run_quiet([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", SDK_REQUIREMENT])
    marker.write_text(SDK_REQUIREMENT)
    return python


def sdk_environ(engine_environ: Mapping[str, str], scratch: Path) -> dict[str, str]:
    """The environment for one SDK run: the test's dockerd, the SDK config, no way out to AWS or the network."""
    config = scratch / "sagemaker-config.yaml"
    config.write_text(SDK_CONFIG)
    return {
        **engine_environ,
        "SAGEMAKER_USER_CONFIG_OVERRIDE": str(config),
        "SAGEMAKER_ADMIN_CONFIG_OVERRIDE": str(config),
        "AWS_ACCESS_KEY_ID": "dummy",
        "AWS_SECRET_ACCESS_KEY": "dummy",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "AWS_CONFIG_FILE": str(scratch / "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(scratch / "no-aws-credentials"),
        "HTTP_PROXY": CLOSED_PORT_PROXY,
        "HTTPS_PROXY": CLOSED_PORT_PROXY,
        "NO_PROXY": "",
    }


def run_sdk(python: Path, script: Path, argument: str, environ: Mapping[str, str], timeout: float = 300) -> str:
    """Run `python script argument` (the SDK's side of a job); its output, whatever its exit code (compose's own
    exit code is not to be trusted: read the container's)."""
    try:
        result = subprocess.run(
            [str(python), str(script), argument], env=dict(environ), capture_output=True, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired as exc:
        raise EngineError(f"the SDK job did not finish within {timeout} s") from exc
    return result.stdout + result.stderr
