"""Fixtures (once per run of this folder) for the container check: one private dockerd, the local Debian base
imported into it, the top Dockerfile built on that base. Everything is built and run for real; nothing is mocked.

Budget (measured on a 2-core machine): base rootfs 40-75 s (cached per day under work/containers on dev
machines), import 3-8 s, smtoolkit image 16-55 s (loaded machine), sklearn image ~20 s, everywhere image ~10 s,
each container run 0.3-4 s; cold total ~160 s.
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.containers.base_image import default_cache_dir, import_base_image, rootfs_tarball
from tests.containers.engine import DockerEngine, EngineError, start_engine
from tests.containers.harness import container_name

logger = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[2]
IMAGE_TAG = "smtoolkit:test"


@pytest.fixture(scope="package")
def docker_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DockerEngine]:
    """A dockerd of our own (state in a temp dir), stopped, unmounted and its images deleted after the last test of
    this folder (so it does not idle through the rest of the run)."""
    try:
        engine = start_engine(tmp_path_factory.mktemp("docker"))
    except EngineError as exc:
        pytest.fail(f"cannot start a Docker engine for the container check: {exc}", pytrace=False)
    try:
        yield engine
    finally:
        engine.stop()
        shutil.rmtree(engine.root, ignore_errors=True)


@pytest.fixture(scope="package")
def base_image(docker_engine: DockerEngine) -> str:
    """The debootstrap base (python3 3.11, pip, venv, the host's CA bundle) imported as local/debian-py."""
    started = time.monotonic()
    try:
        tarball = rootfs_tarball(default_cache_dir(REPO_ROOT))
        tag = import_base_image(docker_engine, tarball)
    except EngineError as exc:
        pytest.fail(f"cannot build the local base image: {exc}", pytrace=False)
    logger.info("base image %s ready in %.1f s", tag, time.monotonic() - started)
    return tag


def build_image(engine: DockerEngine, context: Path, tag: str, base: str, timeout: float = 400) -> str:
    """`docker build --network host --build-arg BASE=base -t tag context` (the classic builder); returns tag."""
    started = time.monotonic()
    try:
        engine.docker(
            "build", "--network", "host", "--build-arg", f"BASE={base}", "-t", tag, str(context), timeout=timeout
        )
    except EngineError as exc:
        pytest.fail(f"building {context / 'Dockerfile'} failed: {exc}", pytrace=False)
    logger.info("built %s from %s in %.1f s", tag, context, time.monotonic() - started)
    return tag


@pytest.fixture(scope="package")
def smtoolkit_image(docker_engine: DockerEngine, base_image: str) -> str:
    """The repository's top Dockerfile, built from the working tree on the local base."""
    return build_image(docker_engine, REPO_ROOT, IMAGE_TAG, base_image)


@pytest.fixture(scope="module")
def bridge_network(docker_engine: DockerEngine) -> Iterator[str]:
    """A user-defined bridge network: dockerd runs with --bridge=none, so `-p` needs a network to publish from
    (docker-proxy forwards 127.0.0.1:PORT into it; no iptables involved). Removed after the module."""
    name = container_name()
    docker_engine.docker("network", "create", name)
    try:
        yield name
    finally:
        docker_engine.docker("network", "rm", name, check=False)
