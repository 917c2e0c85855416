"""ModelRegistry within one process: two registries on one store stand for two workers (the multi-process
tests are in tests/integration/test_multimodel_registry.py)."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from smtoolkit.config.launcher import LauncherSettings
from smtoolkit.serve.codecs.registry import default_codecs
from smtoolkit.serve.handlers import load_script_handlers
from smtoolkit.serve.pipeline import Invocation
from smtoolkit.serve.protocols.multimodel.loader import ModelLoader
from smtoolkit.serve.protocols.multimodel.memory import MEBIBYTE
from smtoolkit.serve.protocols.multimodel.registry import ModelRegistry
from smtoolkit.serve.protocols.multimodel.requirements import RequirementsInstaller
from smtoolkit.serve.protocols.multimodel.store import SharedStore
from tests.unit.serve.conftest import WriteScript

SCRIPT = """
def model_fn(model_dir):
    return model_dir

def predict_fn(data, model):
    return {"model_dir": model, "echo": data}
"""
WAIT_S = 10.0


@pytest.fixture
def registries(tmp_path: Path, write_script: WriteScript) -> Iterator[tuple[ModelRegistry, ModelRegistry]]:
    store = SharedStore.create(workers=2, parent=tmp_path)
    installer = RequirementsInstaller(store.root / "installs", LauncherSettings(), dict(os.environ))
    loader = ModelLoader(load_script_handlers(write_script(SCRIPT)), default_codecs(), "application/json", installer)
    pair = ModelRegistry(store, loader, 1024 * MEBIBYTE), ModelRegistry(store, loader, 1024 * MEBIBYTE)
    yield pair
    for registry in pair:
        registry.close()


def model(tmp_path: Path, name: str) -> str:
    folder = tmp_path / "models" / name
    folder.mkdir(parents=True)
    (folder / "weights").write_text(name)
    return str(folder)


def test_a_load_is_answered_by_the_other_worker_within_a_second(registries, tmp_path) -> None:
    first, second = registries
    url = model(tmp_path, "m")
    first.load("m", url)
    started = time.monotonic()
    reply = second.handler("m").invoke(Invocation(b"[1]", "application/json", "application/json"))
    assert time.monotonic() - started < 1.0
    assert reply.body == f'{{"model_dir": "{url}", "echo": [1]}}'.encode()


def test_the_watcher_frees_an_idle_workers_copy(registries, tmp_path) -> None:
    first, second = registries
    first.load("m", model(tmp_path, "m"))
    second.handler("m")
    released = threading.Event()
    second.watch(0.01, lambda names: released.set() if "m" in names else None)
    first.unload("m")
    assert released.wait(WAIT_S)
    assert second.loaded_here() == []


def test_a_reload_under_the_same_name_replaces_the_old_copy(registries, tmp_path) -> None:
    first, second = registries
    first.load("m", model(tmp_path, "old"))
    assert second.handler("m").model_dir.name == "old"
    first.unload("m")
    first.load("m", model(tmp_path, "new"))
    assert second.handler("m").model_dir.name == "new"
