"""BatchingSettings: how long a request may wait for company and how many may share one batch call.

They take effect for a script that defines batch_predict_fn (see serve.batching.handler). Read from
SAGEMAKER_MAX_BATCH_SIZE and SAGEMAKER_MAX_BATCH_WAIT_MS, like the rest of `serve`'s settings.
"""

from __future__ import annotations

from pydantic import Field

from smtoolkit.config.settings import EnvSettings

ENV_PREFIX = "SAGEMAKER_"


class BatchingSettings(EnvSettings):
    """Each field is read from SAGEMAKER_<FIELD NAME> by `from_environ`."""

    env_prefix = ENV_PREFIX

    max_batch_size: int = Field(
        32, ge=1, le=4096, description="Most requests one batch_predict_fn call gets (smtoolkit's own). Default 32."
    )
    max_batch_wait_ms: float = Field(
        10.0,
        ge=0,
        le=60_000,
        description="Longest a request waits for others to share its batch, in ms (smtoolkit's own). Default 10.",
    )

    @property
    def max_batch_wait_s(self) -> float:
        return self.max_batch_wait_ms / 1000
