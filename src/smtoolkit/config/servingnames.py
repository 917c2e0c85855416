"""A warning for each SAGEMAKER_* variable that looks like a mistyped serving setting
(SAGEMAKER_MODEL_SERVER_TIMOUT), which `serve` would otherwise ignore without a word.

The platform, the SDK and the AWS toolkits set many SAGEMAKER_* variables that are no setting of `serve`:
those are known here (the lists of /work/shared/reference: serving_toolkits.md, training_toolkits.md), and
a name is warned about only when it is close to one smtoolkit reads, so a variable the platform adds later
is not taken for a typo.
"""

from __future__ import annotations

from collections.abc import Mapping

from smtoolkit.config.batching import BatchingSettings
from smtoolkit.config.multimodel import MultiModelSettings
from smtoolkit.config.serving import ENV_PREFIX, ServingSettings
from smtoolkit.config.settings import warn_unknown

# SAGEMAKER_* variables smtoolkit reads outside the serving settings (paths, storage, train, export).
READ_ELSEWHERE = (
    "SAGEMAKER_BASE_DIR",
    "SAGEMAKER_JOB_NAME",
    "SAGEMAKER_MANAGED_WARMPOOL_CACHE_DIRECTORY",
    "SAGEMAKER_METRICS_DIRECTORY",
    "SAGEMAKER_REGION",
    "SAGEMAKER_TRAINING_MODULE",
)
# Set or read by the platform, the SDK and the AWS toolkits for their own purposes; names ending in _ are
# families. Never warned about, never suggested.
OTHERS_VARIABLES = (
    "SAGEMAKER_BASE_PATH",
    "SAGEMAKER_DISABLE_CONTAINER_SUPPORT",
    "SAGEMAKER_HANDLER",
    "SAGEMAKER_HYPERPARAMETERS",
    "SAGEMAKER_INSTANCE_TYPE",
    "SAGEMAKER_LOCAL_SELINUX_ENABLED",
    "SAGEMAKER_MAX_DIRECT_MEMORY_SIZE",
    "SAGEMAKER_MAX_HEAP_SIZE",
    "SAGEMAKER_MAX_REQUEST_SIZE",
    "SAGEMAKER_MODEL_JOB_QUEUE_SIZE",
    "SAGEMAKER_MODEL_SERVER_VMARGS",
    "SAGEMAKER_NUM_MODEL_WORKERS",
    "SAGEMAKER_PYTHON_SDK_LOCAL_MODE_CONFIG_SCHEMA",
    "SAGEMAKER_SERVING_MODULE",
    "SAGEMAKER_USE_NGINX",
    "SAGEMAKER_INFERENCE_",
    "SAGEMAKER_MMS_",
)


def serving_variables() -> list[str]:
    """Every SAGEMAKER_* variable smtoolkit reads."""
    declared = [
        *ServingSettings.variables().values(),
        *BatchingSettings.variables().values(),
        *MultiModelSettings.variables().values(),
    ]
    return [name for name in (*declared, *READ_ELSEWHERE) if name.startswith(ENV_PREFIX)]


def check_serving_names(environ: Mapping[str, str]) -> list[str]:
    """Warn about each SAGEMAKER_* variable that is a near miss of one smtoolkit reads; returns their names."""
    return warn_unknown(environ, ENV_PREFIX, serving_variables(), also_known=OTHERS_VARIABLES, near_misses_only=True)
