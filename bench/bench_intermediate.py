"""Intermediate-output uploads against the training process: how long a writer process takes to write 200 files
of 1 MiB into the folder, without a watch and while FolderUploader (in this process, as in the launcher) copies
each closed file to a destination folder; and how long after the writer's last file every upload is done.

Run: .venv/bin/python -m bench.bench_intermediate [runs].
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from smtoolkit.dirsync.destination import Destination
from smtoolkit.dirsync.uploader import FolderUploader

FILES = 200
WRITER = f"""
import os, sys, time
folder = sys.argv[1]
data = os.urandom(1024 * 1024)
start = time.perf_counter()
for index in range({FILES}):
    with open(os.path.join(folder, f"part-{{index}}.bin"), "wb") as stream:
        stream.write(data)
print(time.perf_counter() - start)
"""


def _write(folder: Path) -> float:
    out = subprocess.run([sys.executable, "-c", WRITER, str(folder)], capture_output=True, text=True, check=True)
    return float(out.stdout)


def _one(root: Path, watched: bool) -> tuple[float, float]:
    folder, remote = root / "intermediate", root / "remote"
    folder.mkdir(parents=True)
    if not watched:
        return _write(folder), 0.0
    uploader = FolderUploader(folder, Destination(str(remote), {}), what="bench").start()
    writing = _write(folder)
    ended = time.perf_counter()
    uploader.stop()
    assert uploader.uploaded == FILES, uploader.uploaded
    return writing, time.perf_counter() - ended


def main(runs: int = 5) -> dict[str, float]:
    plain, watched, drain = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for run in range(runs):
            plain.append(_one(Path(tmp) / f"plain-{run}", watched=False)[0])
            writing, lag = _one(Path(tmp) / f"watched-{run}", watched=True)
            watched.append(writing)
            drain.append(lag)
    result = {
        "writer_plain_s": statistics.median(plain),
        "writer_watched_s": statistics.median(watched),
        "uploads_done_after_last_write_s": statistics.median(drain),
    }
    for name, value in result.items():
        print(f"{name:34} {value:.3f}")
    return result


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
