"""Runs `run_supervised` on the command after `--` and writes the Outcome as JSON.

`python supervise_driver.py OUTCOME_JSON LOG_FILE GRACE TAIL_BYTES -- ARGV...`
The log goes to LOG_FILE so that fds 1 and 2 carry only what the child wrote.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from dataclasses import asdict
from pathlib import Path

from smtoolkit.proc.supervise import ProcessSpec, run_supervised
from tests.integration.scripts.child import zombies


def main(argv: list[str]) -> int:
    outcome_file, log_file, grace, tail_bytes, separator, *command = argv
    assert separator == "--", argv
    logging.basicConfig(filename=log_file, level=logging.DEBUG, format="%(levelname)s %(name)s %(message)s")
    spec = ProcessSpec(argv=tuple(command), env=dict(os.environ), cwd=Path.cwd())
    outcome = run_supervised(spec, grace_period=float(grace), stderr_tail_bytes=int(tail_bytes))
    report = {
        **asdict(outcome),
        "stderr_tail": outcome.stderr_tail.decode("latin-1"),
        "pid": os.getpid(),
        "zombies": zombies(os.getpid()),
    }
    tmp = outcome_file + ".tmp"
    Path(tmp).write_text(json.dumps(report))
    os.replace(tmp, outcome_file)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
