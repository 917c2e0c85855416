"""MultiModelSettings: the memory budget of a multi-model endpoint (SAGEMAKER_MULTI_MODEL=true).

Read from SAGEMAKER_MME_MEMORY_BUDGET_MB and SAGEMAKER_MME_MEMORY_MARGIN_PERCENT; the lead folds them into
ServingSettings. Nothing here measures: serve.protocols.multimodel.memory turns them into a byte count.
"""

from __future__ import annotations

from pydantic import Field

from smtoolkit.config.settings import EnvSettings

ENV_PREFIX = "SAGEMAKER_"


class MultiModelSettings(EnvSettings):
    """Each field is read from SAGEMAKER_<FIELD NAME> by `from_environ`."""

    env_prefix = ENV_PREFIX

    mme_memory_budget_mb: int | None = Field(
        None,
        ge=1,
        description="MiB the server may hold: its processes plus every worker's copy of every model "
        "(smtoolkit's own). Default: the container's memory (cgroup limit, else the machine's) less the margin.",
    )
    mme_memory_margin_percent: float = Field(
        10.0,
        ge=0,
        lt=100,
        description="Share of the container's memory kept free when the budget is the default "
        "(smtoolkit's own). Default 10.",
    )
