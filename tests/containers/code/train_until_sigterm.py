"""Training script that runs until SIGTERM, then saves a checkpoint-like file and exits 0 (a clean stop)."""

import os
import signal
import sys
import time
from pathlib import Path
from types import FrameType

output = Path(os.environ["SM_OUTPUT_DATA_DIR"])


def on_sigterm(signum: int, frame: FrameType | None) -> None:
    (output / "sigterm-received").write_text(f"signal {signum} at {time.time()}\n")
    sys.exit(0)


signal.signal(signal.SIGTERM, on_sigterm)
output.mkdir(parents=True, exist_ok=True)
(output / "started").write_text(str(os.getpid()))
while True:
    time.sleep(0.1)
