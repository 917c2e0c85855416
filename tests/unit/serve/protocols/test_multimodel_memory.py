"""The memory budget: the setting, else the container's limit (cgroup v2/v1, else psutil) less the margin."""

from __future__ import annotations

from pathlib import Path

import psutil
import pytest

from smtoolkit import hardware
from smtoolkit.config.multimodel import MultiModelSettings
from smtoolkit.errors import InsufficientStorage
from smtoolkit.serve.protocols.multimodel.memory import MEBIBYTE, budget_bytes, check_fits, measured


def test_the_setting_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SAGEMAKER_MME_MEMORY_BUDGET_MB", "300")
    assert budget_bytes(MultiModelSettings.from_environ()) == 300 * MEBIBYTE


def test_the_default_is_the_container_less_the_margin() -> None:
    settings = MultiModelSettings(mme_memory_margin_percent=25)
    assert budget_bytes(settings, container_bytes=4000) == 3000
    assert budget_bytes(MultiModelSettings()) == int(hardware.memory_limit() * 0.9)


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({"memory.max": "1073741824\n"}, 1 << 30),
        ({"memory.max": "max\n"}, None),
        ({"memory/memory.limit_in_bytes": "536870912\n"}, 1 << 29),
        ({}, None),
    ],
)
def test_the_container_limit_from_cgroup_v2_or_v1(tmp_path: Path, files: dict[str, str], expected: int | None) -> None:
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    machine = psutil.virtual_memory().total
    assert hardware.memory_limit(tmp_path) == (min(expected, machine) if expected else machine)


def test_a_load_past_the_budget_is_507_saying_what_is_free() -> None:
    check_fits(committed=60 * MEBIBYTE, cost=40 * MEBIBYTE, budget=100 * MEBIBYTE, name="m")
    with pytest.raises(InsufficientStorage, match=r"loading m needs 41.0 MiB.*40.0 MiB of the 100.0 MiB budget"):
        check_fits(committed=60 * MEBIBYTE, cost=41 * MEBIBYTE, budget=100 * MEBIBYTE, name="m")


def test_measured_sees_what_an_allocation_costs() -> None:
    with measured() as cost:
        ballast = bytearray(32 * MEBIBYTE)
        ballast[::4096] = b"\x01" * len(range(0, len(ballast), 4096))
    assert cost.bytes > 24 * MEBIBYTE
    del ballast


def test_a_loaded_model_is_frozen_out_of_collections_and_an_unloaded_ones_cycles_are_still_collected() -> None:
    import gc
    import weakref

    from smtoolkit.serve.protocols.multimodel.memory import keep_out_of_collections, release

    class Node:
        other: object = None

    try:
        model = Node()
        model.other = Node()
        model.other.other = model  # a reference cycle, as models' object graphs often have
        alive = weakref.ref(model)
        before = gc.get_freeze_count()
        keep_out_of_collections()
        assert gc.get_freeze_count() > before
        del model
        gc.collect()
        assert alive() is not None  # frozen: a plain collection leaves it
        release()  # the unload's collection sees it
        assert alive() is None
        assert gc.get_freeze_count() > 0  # and what is still alive is frozen again
    finally:
        gc.unfreeze()
