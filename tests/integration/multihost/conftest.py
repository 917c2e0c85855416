"""Fixtures for multi-host tests: a fresh namespace cluster per test, removed whatever happens."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.multihost.cluster import Cluster, SshKeys, make_ssh_keys


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    made = Cluster(tmp_path)
    try:
        made.start(2)
        yield made
    finally:
        made.close()


@pytest.fixture(scope="session")
def ssh_keys(tmp_path_factory: pytest.TempPathFactory) -> SshKeys:
    return make_ssh_keys(tmp_path_factory.mktemp("ssh"))
