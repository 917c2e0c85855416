"""What every local job's spec shares: the API's model conventions (its spelling as aliases, unknown fields kept
for smtoolkit.config.apifields to name), job names, distribution and the stopping condition."""

from __future__ import annotations

import time
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

JOB_NAME_PATTERN = r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$"
Distribution = Literal["FullyReplicated", "ShardedByS3Key"]


def default_job_name(base: str) -> str:
    """`<base>-YYYY-mm-dd-HH-MM-SS-mmm`, the SDK's rule for unnamed jobs."""
    now = time.time()
    return f"{base}-{time.strftime('%Y-%m-%d-%H-%M-%S', time.gmtime(now))}-{int(now * 1000) % 1000:03d}"


class ApiModel(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True, populate_by_name=True)


class StoppingCondition(ApiModel):
    API_ONLY: ClassVar[frozenset[str]] = frozenset({"MaxWaitTimeInSeconds", "MaxPendingTimeInSeconds"})
    max_runtime_in_seconds: int | None = Field(default=None, alias="MaxRuntimeInSeconds", ge=1)
