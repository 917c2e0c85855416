"""A Docker engine for working on the images by hand, the same one the container tests start (as root):

    python -m tests.containers.docker_env up      # base rootfs (cached per day), dockerd, base image imported
    eval "$(python -m tests.containers.docker_env env)"
    docker build --network host --build-arg BASE=local/debian-py:bookworm -t smtoolkit .
    python -m tests.containers.docker_env down    # stop dockerd, unmount its leftovers, remove its state

State lives under work/docker (--root to change); the base rootfs tarball under work/containers
(SMTOOLKIT_CONTAINER_CACHE to change).
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from tests.containers.base_image import BASE_TAG, default_cache_dir, import_base_image, rootfs_tarball
from tests.containers.engine import DockerEngine, EngineError, ping, start_engine

REPO_ROOT = Path(__file__).resolve().parents[2]


def shell_exports(root: Path) -> str:
    return f"export DOCKER_HOST=unix://{root / 'docker.sock'} DOCKER_BUILDKIT=0"


def up(root: Path) -> None:
    if ping(root / "docker.sock"):
        print(f"dockerd already answers on {root / 'docker.sock'}", file=sys.stderr)
        print(shell_exports(root))
        return
    tarball = rootfs_tarball(default_cache_dir(REPO_ROOT))
    engine = start_engine(root)
    try:
        import_base_image(engine, tarball)
    except EngineError:
        engine.stop()
        raise
    if engine.process is not None:
        engine.process.returncode = 0  # it keeps running after we exit, on purpose: no "still running" warning
    print(f"dockerd {engine.pid} on {engine.socket_path}; base image {BASE_TAG}", file=sys.stderr)
    print(shell_exports(root))


def down(root: Path) -> None:
    pid_file = root / "dockerd.pid"
    if not pid_file.is_file():
        print(f"no dockerd pid file under {root}", file=sys.stderr)
        return
    DockerEngine(root, int(pid_file.read_text().strip())).stop()
    shutil.rmtree(root, ignore_errors=True)
    print(f"stopped dockerd and removed {root}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.containers.docker_env", description=__doc__.split("\n")[0])
    parser.add_argument("action", choices=("up", "down", "env"))
    parser.add_argument("--root", type=Path, default=REPO_ROOT / "work" / "docker", help="dockerd's state directory")
    args = parser.parse_args(argv)
    root = args.root.resolve()
    try:
        if args.action == "up":
            up(root)
        elif args.action == "down":
            down(root)
        else:
            print(shell_exports(root))
    except EngineError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
