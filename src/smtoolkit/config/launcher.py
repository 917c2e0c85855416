"""The launcher's own settings (SMTOOLKIT_* and CA_REPOSITORY_ARN), and the check that names a mistyped
SMTOOLKIT_* variable instead of silently ignoring it."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, Literal

from typing_extensions import Self

from smtoolkit.config.engine import EngineSettings
from smtoolkit.config.protocols import ProtocolSettings
from smtoolkit.config.settings import EnvSettings, env_field, warn_unknown

PREFIX = "SMTOOLKIT_"
# Read elsewhere, as part of the job's configuration or by the processes the launcher starts.
OTHER_VARIABLES = (
    "SMTOOLKIT_HOST_ADDRESSES",  # smtoolkit.config.sources: where a local job's hosts are reached
    "SMTOOLKIT_HOST_ENV",  # smtoolkit.launch.mpi_local: a local MPI host's variables
    "SMTOOLKIT_RANK_DIR",  # smtoolkit.launch.rank_main: where ranks leave their error reports
    "SMTOOLKIT_SITE_DIRS",  # smtoolkit.usercode.sitedirs: the warm pool env whose .pth files the user's processes run
    "SMTOOLKIT_TRANSFORM_SLICE_END",  # smtoolkit.transform.command: --slice-end
)


class LauncherSettings(EnvSettings):
    grace_period_s: float = env_field(
        "SMTOOLKIT_GRACE_PERIOD_S",
        110.0,
        ge=0,
        description="After SIGTERM/SIGINT, how long the job may take to stop before SIGKILL.",
    )
    stderr_tail_kib: int = env_field(
        "SMTOOLKIT_STDERR_TAIL_KIB", 64, ge=1, description="How much of the job's stderr the failure report keeps."
    )
    argv_style: Literal["python", "json"] = env_field(
        "SMTOOLKIT_ARGV_STYLE",
        "python",
        description="Hyperparameter values in argv as sagemaker-training renders them, or JSON.",
    )
    install_requirements: bool = env_field(
        "SMTOOLKIT_INSTALL_REQUIREMENTS", True, description="Install requirements.txt / the code package."
    )
    ca_repository_arn: str | None = env_field(
        "CA_REPOSITORY_ARN", None, description="A CodeArtifact repository pip installs from (the platform's name)."
    )

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Self:
        """As EnvSettings.from_environ, after a warning for each mistyped SMTOOLKIT_* name (read once per
        command, so warned once)."""
        environ = os.environ if environ is None else environ
        check_names(environ)
        return super().from_environ(environ, **overrides)


def known_variables() -> list[str]:
    """Every SMTOOLKIT_* variable smtoolkit reads."""
    declared = [
        *LauncherSettings.variables().values(),
        *EngineSettings.variables().values(),
        *ProtocolSettings.variables().values(),
    ]
    return [name for name in (*declared, *OTHER_VARIABLES) if name.startswith(PREFIX)]


def check_names(environ: Mapping[str, str]) -> list[str]:
    """Warn about each SMTOOLKIT_* variable that is no setting, naming the closest valid one."""
    return warn_unknown(environ, PREFIX, known_variables())
