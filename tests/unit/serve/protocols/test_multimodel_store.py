"""SharedStore: claims, publication, removal and the counter, as every worker sees them on disk."""

from __future__ import annotations

import json
import multiprocessing
import subprocess
import sys
from pathlib import Path

import pytest

from smtoolkit.errors import Conflict, InsufficientStorage, NotFound
from smtoolkit.serve.protocols.multimodel.memory import check_fits
from smtoolkit.serve.protocols.multimodel.store import SharedStore


@pytest.fixture
def store(tmp_path: Path) -> SharedStore:
    return SharedStore.create(workers=4, baseline_bytes=1000, parent=tmp_path)


def test_a_claim_is_listed_only_once_published(store: SharedStore) -> None:
    claim = store.claim("m", "/models/m")
    assert store.listed() == [] and store.generation() == 0
    with pytest.raises(Conflict, match="Model m is already loaded"):
        store.claim("m", "/models/m")
    record = store.publish(claim, 10, lambda committed: None)
    assert [r.name for r in store.listed()] == ["m"] and record.state == "ready"
    assert store.generation() == 1
    assert store.committed_bytes() == 1000 + 10 * 4  # every worker's copy, plus the server itself


def test_a_refused_publication_leaves_the_claim_to_abandon(store: SharedStore) -> None:
    claim = store.claim("m", "/models/m")
    with pytest.raises(InsufficientStorage, match="507|budget"):
        store.publish(claim, 10, lambda committed: check_fits(committed, 40, 1020, "m"))
    store.abandon(claim)
    assert store.record("m") is None
    store.claim("m", "/models/m")  # free again


def test_removal_unlists_and_bumps_the_counter(store: SharedStore) -> None:
    store.publish(store.claim("m", "/models/m"), 1, lambda committed: None)
    assert store.remove("m").url == "/models/m"
    assert store.listed() == [] and store.generation() == 2
    with pytest.raises(NotFound, match="Model not found: m"):
        store.remove("m")


def test_a_claim_whose_loading_process_died_is_free(store: SharedStore, tmp_path: Path) -> None:
    code = (
        "from pathlib import Path; from smtoolkit.serve.protocols.multimodel.store import SharedStore; "
        f"SharedStore(Path({str(store.root)!r})).claim('m', '/m')"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
    assert store.record("m") is None
    store.claim("m", "/m")


def test_names_with_any_characters_get_their_own_record(store: SharedStore) -> None:
    for name in ("a/b", "../x", "ünï côdé", "a" * 300):
        store.publish(store.claim(name, f"/m/{len(name)}"), 0, lambda committed: None)
    assert sorted(r.name for r in store.listed()) == sorted(["a/b", "../x", "ünï côdé", "a" * 300])
    assert all(json.loads(p.read_text())["state"] == "ready" for p in (store.root / "models").iterdir())


def test_the_default_folder_is_in_shared_memory_and_discard_removes_it() -> None:
    store = SharedStore.create(workers=1)
    try:
        assert store.root.parent == Path("/dev/shm") or not Path("/dev/shm").is_dir()
        assert store.generation() == 0
    finally:
        store.discard()
    assert not store.root.exists()


def _bump_in_child(store: SharedStore) -> None:
    store.publish(store.claim("from-child", "/m"), 0, lambda committed: None)


def test_a_counter_mapped_before_the_fork_sees_the_childs_changes(store: SharedStore) -> None:
    """gunicorn's way: the master maps the store, the workers are forked and share the mapping."""
    assert store.generation() == 0  # mapped now, in the 'master'
    child = multiprocessing.get_context("fork").Process(target=_bump_in_child, args=(store,))
    child.start()
    child.join(60)
    assert child.exitcode == 0
    assert store.generation() == 1 and [r.name for r in store.listed()] == ["from-child"]
