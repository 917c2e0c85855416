"""Warm pools: the launcher's install of requirements.txt on a first start vs a second start on the same warm
instance (SAGEMAKER_MANAGED_WARMPOOL_CACHE_DIRECTORY kept, same requirements.txt), as on the platform: the second
job runs in a NEW container from the image, so nothing the first one installed into the image's environment is left.

Offline: the requirements are wheels written into a local folder (--no-index --find-links), installed by real pip.
Each start is a fresh throwaway venv at the same path (the image's interpreter); each round a fresh warm pool
directory. Prints the ratio (goal >= 10x).
Run: make bench (or .venv/bin/python -m bench.bench_warmpool [rounds]).
"""

from __future__ import annotations

import statistics
import sys
import tempfile
from pathlib import Path

from tests.integration.throwaway import fresh_container, launcher_install
from tests.wheels import write_wheel

from smtoolkit.usercode.warmpool import CACHE_DIR_VARIABLE

PACKAGES = 6  # small wheels of 512 KiB each: pip's resolve and unpack, without a network's noise


def _code_dir(root: Path) -> Path:
    wheels = root / "wheels"
    names = [f"smtk-bench-{index}" for index in range(PACKAGES)]
    for name in names:
        write_wheel(wheels, name, "1.0", padding_kib=512)
    code = root / "code"
    code.mkdir()
    (code / "requirements.txt").write_text("\n".join(["--no-index", f"--find-links {wheels}", *names]) + "\n")
    return code


def main(rounds: int = 5) -> dict[str, float]:
    first: list[float] = []
    second: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        code = _code_dir(Path(tmp))
        image = Path(tmp) / "image"
        for index in range(rounds):
            warm = {CACHE_DIR_VARIABLE: str(Path(tmp) / f"warmpool-{index}")}
            steps, seconds = launcher_install(fresh_container(image), code, warm)
            assert steps == 1, "the first start must install"
            first.append(seconds)
            steps, seconds = launcher_install(fresh_container(image), code, warm)  # a new container
            assert steps == 0, "the second start must skip the install"
            second.append(seconds)
    cold, warm_median = statistics.median(first), statistics.median(second)
    print(f"first start, install requirements.txt ({PACKAGES} wheels)  median {cold * 1000:8.1f} ms")
    print(f"second start, new container on the warm instance       median {warm_median * 1000:8.1f} ms")
    print(f"ratio first / second: {cold / warm_median:.1f}x   (goal >= 10x)")
    return {"first_ms": cold * 1000, "second_ms": warm_median * 1000, "ratio": cold / warm_median}


if __name__ == "__main__":
    main(*(int(arg) for arg in sys.argv[1:2]))
