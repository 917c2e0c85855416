"""A trivial job end to end: smtoolkit's `train` vs sagemaker-training 5.1.4's `train` on the same job tree.

Both run in a private mount namespace whose /etc/hosts names algo-1 (sagemaker-training waits for DNS).
Also reports the launch overhead: launcher start to the user script's first line.
Run: make bench (or .venv/bin/python -m bench.bench_train [runs]).
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import base_environ, interleaved, summary, toolkit_python, write_job

SCRIPT = "import time, pathlib\npathlib.Path('../first_line').write_text(repr(time.time()))\n"


def _in_namespace(hosts: Path, argv: list[str]) -> list[str]:
    inner = f"mount --bind {hosts} /etc/hosts && exec " + " ".join(argv)
    return ["unshare", "--mount", "--propagation", "private", "sh", "-c", inner]


def _overhead(argv: list[str], env: dict[str, str], base: Path, runs: int) -> float:
    delays = []
    for _ in range(runs):
        start = time.time()
        subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        delays.append(float((base / "first_line").read_text()) - start)
    return statistics.median(delays)


def main(runs: int = 10) -> dict[str, float]:
    toolkit = toolkit_python()
    ours_train = str(Path(sys.executable).with_name("train"))
    theirs_train = str(toolkit.with_name("train"))
    with tempfile.TemporaryDirectory() as tmp:
        hosts = Path(tmp) / "hosts"
        hosts.write_text(Path("/etc/hosts").read_text() + "\n127.0.0.1 algo-1\n")
        bases = {}
        for name in ("ours", "theirs"):
            base = write_job(Path(tmp) / name / "opt" / "ml", {"lr": "0.1", "epochs": "3"}, "train.py")
            (base / "code" / "train.py").write_text(SCRIPT)
            bases[name] = base
        env = {name: {**base_environ(), "SAGEMAKER_BASE_DIR": str(base)} for name, base in bases.items()}
        ours = _in_namespace(hosts, [ours_train])
        theirs = _in_namespace(hosts, [theirs_train])
        times = interleaved(
            {"smtoolkit train": (ours, env["ours"]), "sagemaker-training 5.1.4 train": (theirs, env["theirs"])}, runs
        )
        overhead_ours = _overhead(ours, env["ours"], bases["ours"], runs)
        overhead_theirs = _overhead(theirs, env["theirs"], bases["theirs"], runs)
        shutil.rmtree(tmp, ignore_errors=True)
    for name, values in times.items():
        print(summary(name, values))
    ours_median, theirs_median = (statistics.median(v) for v in times.values())
    print(f"ratio smtoolkit / sagemaker-training: {ours_median / theirs_median:.2f}x   (goal <= 0.6x)")
    print(
        f"launch overhead (start -> user script's first line): smtoolkit {overhead_ours * 1000:.0f} ms, "
        f"sagemaker-training {overhead_theirs * 1000:.0f} ms"
    )
    return {"ratio": ours_median / theirs_median, "overhead_ms": overhead_ours * 1000}


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10)
