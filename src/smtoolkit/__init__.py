"""smtoolkit: SageMaker's container contract for training, processing and serving code, and local jobs.

`from smtoolkit import env` gives the typed view of the running job, built on first access and cached.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from smtoolkit.errors import (
    ConfigError,
    EntryPointError,
    LaunchError,
    ServeError,
    SmtoolkitError,
    UserScriptError,
)

if TYPE_CHECKING:
    from smtoolkit import checkpoints
    from smtoolkit.config.hyperparameters import Hyperparameters
    from smtoolkit.config.training import TrainingEnv
    from smtoolkit.metricsfile import log_metric

    env: TrainingEnv

__version__ = "0.1.0"

__all__ = [
    "ConfigError",
    "EntryPointError",
    "Hyperparameters",
    "LaunchError",
    "ServeError",
    "SmtoolkitError",
    "UserScriptError",
    "__version__",
    "checkpoints",
    "env",
    "log_metric",
]


def __getattr__(name: str) -> Any:
    # Lazy so that `import smtoolkit` reads nothing and imports no pydantic.
    if name == "env":
        from smtoolkit.config.training import current_env

        return current_env()
    if name == "Hyperparameters":
        from smtoolkit.config.hyperparameters import Hyperparameters

        return Hyperparameters
    if name == "checkpoints":
        import smtoolkit.checkpoints

        return smtoolkit.checkpoints
    if name == "log_metric":
        from smtoolkit.metricsfile import log_metric

        return log_metric
    raise AttributeError(f"module 'smtoolkit' has no attribute {name!r}")
