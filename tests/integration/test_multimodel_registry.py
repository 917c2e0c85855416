"""Multi-model registry across real worker processes sharing one store: loads seen by every worker, no 404 for
a listed model, unloads freeing memory in each worker, the memory budget (507), per-model code, bad input."""

from __future__ import annotations

import os
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from smtoolkit.serve.protocols.multimodel.memory import MEBIBYTE
from smtoolkit.serve.protocols.multimodel.store import SharedStore
from tests.integration.multimodel_workers import Worker

ENDPOINT_SCRIPT = """
from pathlib import Path

def model_fn(model_dir):
    folder = Path(model_dir)
    if (folder / "fail").exists():
        raise ValueError((folder / "fail").read_text())
    if (folder / "gate").exists():
        (folder / "gate").read_text()  # a FIFO: blocks until the test writes to it
    size = int((folder / "alloc_mb").read_text()) if (folder / "alloc_mb").exists() else 0
    ballast = bytearray(size * 1024 * 1024)
    ballast[::4096] = b"\\x01" * len(range(0, len(ballast), 4096))  # touch every page: real resident memory
    return {"name": (folder / "name.txt").read_text(), "ballast": ballast}

def predict_fn(data, model):
    return {"model": model["name"], "echo": data}
"""

MakeModel = Callable[..., str]


@pytest.fixture
def endpoint_script(tmp_path: Path) -> Path:
    script = tmp_path / "endpoint" / "inference.py"
    script.parent.mkdir()
    script.write_text(ENDPOINT_SCRIPT)
    return script


@pytest.fixture
def make_model(tmp_path: Path) -> MakeModel:
    def make(name: str, alloc_mb: int = 0, fail: str | None = None, code: str | None = None) -> str:
        folder = tmp_path / "models" / name / "model"
        folder.mkdir(parents=True)
        (folder / "name.txt").write_text(name)
        (folder / "alloc_mb").write_text(str(alloc_mb))
        if fail is not None:
            (folder / "fail").write_text(fail)
        if code is not None:
            (folder / "code").mkdir()
            (folder / "code" / "inference.py").write_text(textwrap.dedent(code))
        return str(folder)

    return make


@pytest.fixture
def start_workers(tmp_path: Path, endpoint_script: Path) -> Iterator[Callable[..., list[Worker]]]:
    started: list[Worker] = []

    def start(count: int = 3, budget_mb: int = 4096) -> list[Worker]:
        store = SharedStore.create(workers=count, parent=tmp_path)
        started.extend(Worker(store.root, endpoint_script, budget_mb * MEBIBYTE) for _ in range(count))
        return started[-count:]

    yield start
    for worker in started:
        worker.stop()


def test_a_model_loaded_through_one_worker_is_answered_by_every_worker(start_workers, make_model) -> None:
    a, b, c = start_workers(3)
    url = make_model("m1")
    assert a.call("load", "m1", url) == "m1"
    for worker in (a, b, c, b):
        assert worker.call("invoke", "m1", [1, 2]) == {"model": "m1", "echo": [1, 2]}
        assert worker.call("describe", "m1") == ["m1", url]
    assert b.call("loaded_here") == ["m1"]
    assert c.call("list") == ["m1"]


def test_loading_twice_is_409_and_missing_models_are_404(start_workers, make_model, tmp_path) -> None:
    a, b = start_workers(2)
    url = make_model("m1")
    a.call("load", "m1", url)
    assert b.status("load", "m1", url)[:2] == ("error", 409)
    assert b.status("invoke", "nope", {}) == ("error", 404, "Model not found: nope")
    assert b.status("describe", "nope")[:2] == ("error", 404)
    assert b.status("unload", "nope")[:2] == ("error", 404)


def test_bad_paths_and_failing_model_fn_leave_nothing_loaded(start_workers, make_model, tmp_path) -> None:
    (a,) = start_workers(1)
    (tmp_path / "file").write_text("x")
    (tmp_path / "empty").mkdir()
    assert a.status("load", "m", str(tmp_path / "absent"))[:2] == ("error", 404)
    assert a.status("load", "m", str(tmp_path / "file"))[:2] == ("error", 400)
    assert a.status("load", "m", str(tmp_path / "empty"))[:2] == ("error", 400)
    assert a.status("load", "m", "relative/path")[:2] == ("error", 400)
    outcome = a.status("load", "m", make_model("bad", fail="weights are corrupt"))
    assert outcome[:2] == ("error", 500) and "model_fn failed: ValueError: weights are corrupt" in outcome[2]
    assert a.call("list") == [] and a.call("loaded_here") == []
    assert a.call("load", "m", make_model("good")) == "m"  # the name was not left claimed


def test_an_unloaded_model_is_404_everywhere_and_its_memory_is_released(start_workers, make_model) -> None:
    a, b = start_workers(2)
    url = make_model("big", alloc_mb=64)
    before = b.call("rss")
    a.call("load", "big", url)
    b.call("invoke", "big", 1)  # b loads its own copy on first use
    grown = b.call("rss")
    assert grown - before > 48 * MEBIBYTE
    a.call("unload", "big")
    assert a.status("invoke", "big", 1)[:2] == ("error", 404)
    b.call("sync")  # what b's next request (or its watcher) does
    assert b.call("loaded_here") == []
    assert grown - b.call("rss") > 48 * MEBIBYTE
    assert b.status("invoke", "big", 1)[:2] == ("error", 404)


def test_loading_past_the_budget_is_507_counting_every_workers_copy(start_workers, make_model) -> None:
    a, b = start_workers(2, budget_mb=200)
    a.call("load", "first", make_model("first", alloc_mb=60))  # ~60 MiB x 2 workers
    before = b.call("rss")
    outcome = b.status("load", "second", make_model("second", alloc_mb=60))
    assert outcome[:2] == ("error", 507) and "budget" in outcome[2]
    assert b.call("rss") - before < 20 * MEBIBYTE  # the refused load's 60 MiB were let go
    assert a.call("list") == ["first"] and b.call("loaded_here") == []
    a.call("unload", "first")
    assert b.call("load", "second", str(Path(make_model("again", alloc_mb=60)))) == "second"


def test_a_slow_load_never_blocks_invocations_of_other_models(start_workers, make_model) -> None:
    a, b = start_workers(2)
    a.call("load", "fast", make_model("fast"))
    slow = make_model("slow")
    os.mkfifo(Path(slow) / "gate")
    loading = a.start("load", "slow", slow)
    for worker in (a, b):  # while model_fn of "slow" is blocked in worker a
        assert worker.call("invoke", "fast", "x") == {"model": "fast", "echo": "x"}
        assert worker.status("invoke", "slow", "x")[:2] == ("error", 404)  # not listed until its load answers
        assert worker.call("list") == ["fast"]
    assert b.status("load", "slow", slow)[:2] == ("error", 409)
    (Path(slow) / "gate").write_text("go")
    assert a.result(loading) == "slow"
    (Path(slow) / "gate").unlink()  # worker b's own load must not wait on it
    assert b.call("invoke", "slow", "x") == {"model": "slow", "echo": "x"}


def test_concurrent_loads_of_one_name_leave_exactly_one_winner(start_workers, make_model) -> None:
    workers = start_workers(3)
    url = make_model("m")
    calls = [(worker, worker.start("load", "m", url)) for worker in workers for _ in range(2)]
    outcomes = [worker.outcome(call) for worker, call in calls]
    assert sorted(outcome[0] for outcome in outcomes) == ["error"] * 5 + ["ok"]
    assert {outcome[1] for outcome in outcomes if outcome[0] == "error"} == {409}
    names = [make_model(f"n{i}") for i in range(6)]
    calls = [(workers[i % 3], workers[i % 3].start("load", f"n{i}", url)) for i, url in enumerate(names)]
    assert [worker.result(call) for worker, call in calls] == [f"n{i}" for i in range(6)]
    assert workers[0].call("list") == ["m"] + [f"n{i}" for i in range(6)]


def test_a_model_with_its_own_code_uses_it_and_others_use_the_endpoints(start_workers, make_model) -> None:
    a, b = start_workers(2)
    own = make_model(
        "own",
        code="""
        def model_fn(model_dir):
            return "own model"

        def predict_fn(data, model):
            return {"own": model, "echo": data}
        """,
    )
    a.call("load", "own", own)
    a.call("load", "shared", make_model("shared"))
    assert b.call("invoke", "own", 3) == {"own": "own model", "echo": 3}
    assert b.call("invoke", "shared", 3) == {"model": "shared", "echo": 3}


def test_unloading_under_load_answers_every_request_then_404(start_workers, make_model) -> None:
    a, b = start_workers(2)
    a.call("load", "m", make_model("m"))
    during = [b.start("invoke", "m", i) for i in range(20)]
    a.call("unload", "m")
    after = [b.start("invoke", "m", i) for i in range(20)]
    for call in during:
        outcome = b.outcome(call)
        assert outcome[0] == "ok" or outcome[:2] == ("error", 404), outcome
    assert all(b.outcome(call)[:2] == ("error", 404) for call in after)
