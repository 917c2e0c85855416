"""Run by the SageMaker Python SDK v3's own venv (not this project's): one ModelTrainer job in local container mode.

    python modeltrainer_job.py '{"image": ..., "source_dir": ..., "root": ..., "data": ..., "hyperparameters": {...}}'

The SDK's settings (telemetry off) and dummy AWS credentials come from the caller's environment.
"""

import json
import sys

from sagemaker.train.configs import Compute, InputData, SourceCode
from sagemaker.train.model_trainer import Mode, ModelTrainer

spec = json.loads(sys.argv[1])
trainer = ModelTrainer(
    training_image=spec["image"],
    source_code=SourceCode(source_dir=spec["source_dir"], entry_script=spec["entry_script"], command=spec["command"]),
    compute=Compute(instance_type="local_cpu", instance_count=1),
    training_mode=Mode.LOCAL_CONTAINER,
    local_container_root=spec["root"],
    hyperparameters=spec["hyperparameters"],
    base_job_name="smtk-modeltrainer",
)
trainer.train(input_data_config=[InputData(channel_name="train", data_source=spec["data"])])
