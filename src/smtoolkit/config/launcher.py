"""The launcher's own settings, from SMTOOLKIT_* variables.

A plain model read by hand rather than pydantic-settings: its import (~30 ms, asyncio) would be paid by every
job start, and these are four flat variables.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from smtoolkit.config.files import validate
from smtoolkit.errors import ConfigError, Problem

PREFIX = "SMTOOLKIT_"


class LauncherSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    grace_period_s: float = Field(
        default=110.0, ge=0, description="After SIGTERM/SIGINT, how long the job may take to stop before SIGKILL."
    )
    stderr_tail_kib: int = Field(default=64, ge=1, description="How much of the job's stderr the failure report keeps.")
    argv_style: Literal["python", "json"] = Field(
        default="python", description="Hyperparameter values in argv as sagemaker-training renders them, or JSON."
    )
    install_requirements: bool = Field(default=True, description="Install requirements.txt / the code package.")

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> LauncherSettings:
        """SMTOOLKIT_GRACE_PERIOD_S=30 etc.; a bad value is a ConfigError naming the variable."""
        environ = os.environ if environ is None else environ
        values = {
            name[len(PREFIX) :].lower(): value
            for name, value in environ.items()
            if name.startswith(PREFIX) and name[len(PREFIX) :].lower() in cls.model_fields
        }
        try:
            return validate(cls, values, "settings")
        except ConfigError as error:
            named = [Problem("settings", p.message, f"{PREFIX}{(p.field or '').upper()}") for p in error.problems]
            raise ConfigError(named) from None
