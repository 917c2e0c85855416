"""Opt-in check of containers/pytorch (not part of `make test`: torch from PyPI is about 3 GB to download and a
6 GB image): build it on the top image and run a two-host torchrun job as two containers, algo-1 and algo-2, on a
Docker network of their own (the names resolve through Docker's DNS; each gets its own /opt/ml tree).

    python -m tests.containers.check_pytorch_image     # as root; about 3 minutes with a warm base cache
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

from tests.containers.base_image import default_cache_dir, import_base_image, rootfs_tarball
from tests.containers.engine import DockerEngine, EngineError, start_engine

REPO_ROOT = Path(__file__).resolve().parents[2]
HOSTS = ("algo-1", "algo-2")


def job_tree(base: Path, host: str) -> Path:
    config = base / "input" / "config"
    config.mkdir(parents=True)
    (base / "model").mkdir()
    (base / "output").mkdir()
    (config / "hyperparameters.json").write_text(json.dumps({"epochs": "3"}))
    (config / "inputdataconfig.json").write_text("{}")
    resources = {"current_host": host, "hosts": list(HOSTS), "network_interface_name": "eth0"}
    (config / "resourceconfig.json").write_text(json.dumps(resources))
    return base


def check(engine: DockerEngine, work: Path) -> None:
    started = time.monotonic()
    base = import_base_image(engine, rootfs_tarball(default_cache_dir(REPO_ROOT)))
    engine.docker("build", "--network", "host", "--build-arg", f"BASE={base}", "-t", "smtoolkit", str(REPO_ROOT))
    engine.docker(
        "build", "--network", "host", "-t", "smtoolkit-pytorch", str(REPO_ROOT / "containers" / "pytorch"), timeout=900
    )
    print(f"images built in {time.monotonic() - started:.0f} s", file=sys.stderr)
    network = "smtk-torch-check"
    engine.docker("network", "create", network)
    trees = {host: job_tree(work / host, host) for host in HOSTS}
    try:
        for host, tree in trees.items():
            engine.docker(
                "run", "-d", "--name", host, "--hostname", host, "--network", network, "-v", f"{tree}:/opt/ml",
                "smtoolkit-pytorch", "train",
            )  # fmt: skip
        codes = engine.docker("wait", *HOSTS, timeout=300).stdout.split()
        logs = engine.docker("logs", HOSTS[0], check=False)
    finally:
        engine.docker("rm", "-f", *HOSTS, check=False)
        engine.docker("network", "rm", network, check=False)
    if codes != ["0", "0"] or not (trees["algo-1"] / "model" / "model.pt").is_file():
        raise EngineError(f"the two-host job failed (exit codes {codes}):\n{logs.stdout[-3000:]}{logs.stderr[-3000:]}")
    if not all((tree / "output" / "success").exists() for tree in trees.values()):
        raise EngineError("a host did not write output/success")
    print(f"two-host torchrun job passed; total {time.monotonic() - started:.0f} s", file=sys.stderr)


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="smtk-torch-") as temp:
        try:
            engine = start_engine(Path(temp) / "docker")
        except EngineError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        try:
            check(engine, Path(temp) / "jobs")
        except EngineError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        finally:
            engine.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
