"""Regenerate the golden SM_* dumps from the real sagemaker-training 5.1.4 (run in a venv that has it).

    python -m venv /tmp/tk && /tmp/tk/bin/pip install sagemaker-training==5.1.4
    /tmp/tk/bin/python tests/data/golden/make_golden.py

Each case is a job tree under cases/<name>/ (input/config/*.json); the toolkit runs with SAGEMAKER_BASE_DIR at a
fixed path so the dump is reproducible, and the test substitutes its own base dir for GOLDEN_BASE.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

GOLDEN_BASE = "/tmp/smtoolkit-golden/opt/ml"
HERE = Path(__file__).parent

PROBE = """
import json, os
from sagemaker_training import environment
env = environment.Environment()
out = env.to_env_vars()
for key in ("CURRENT_HOST", "SAGEMAKER_JOB_NAME", "SAGEMAKER_REGION"):
    out[key] = os.environ.get(key)
out["__user_args__"] = env.to_cmd_args()
print(json.dumps(out, sort_keys=True, indent=1))
"""


def main() -> None:
    for case in sorted((HERE / "cases").iterdir()):
        shutil.rmtree(GOLDEN_BASE, ignore_errors=True)
        shutil.copytree(case, GOLDEN_BASE)
        (Path(GOLDEN_BASE) / "output").mkdir(exist_ok=True)
        environ = {k: v for k, v in os.environ.items() if not k.startswith(("SM_", "SAGEMAKER_", "TRAINING_"))}
        environ["SAGEMAKER_BASE_DIR"] = GOLDEN_BASE
        environ.update(json.loads((case / "environ.json").read_text()) if (case / "environ.json").exists() else {})
        result = subprocess.run([sys.executable, "-c", PROBE], env=environ, capture_output=True, text=True, check=True)
        (HERE / f"{case.name}.json").write_text(result.stdout)
        print(case.name, "ok")


if __name__ == "__main__":
    main()
