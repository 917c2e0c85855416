"""The launcher's own settings, from SMTOOLKIT_* variables (pydantic-settings: only the CLI pays its import)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class LauncherSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SMTOOLKIT_", frozen=True, extra="ignore")

    grace_period_s: float = Field(
        default=110.0, ge=0, description="After SIGTERM/SIGINT, how long the job may take to stop before SIGKILL."
    )
    stderr_tail_kib: int = Field(default=64, ge=1, description="How much of the job's stderr the failure report keeps.")
    argv_style: Literal["python", "json"] = Field(
        default="python", description="Hyperparameter values in argv as sagemaker-training renders them, or JSON."
    )
    install_requirements: bool = Field(default=True, description="Install requirements.txt / the code package.")
