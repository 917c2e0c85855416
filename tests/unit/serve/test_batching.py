"""Batcher: concurrent submitters share batch calls; timing bounds, failures and splitting are exact."""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pytest

from smtoolkit.errors import BadRequest, ServeError
from smtoolkit.serve.batching.batcher import Batcher

JOIN_TIMEOUT_S = 10.0


class Recorder:
    """A batch function that doubles each item and remembers every batch it got."""

    def __init__(self, fail_on: Any = None, error: Exception | None = None) -> None:
        self.batches: list[list[Any]] = []
        self.fail_on, self.error = fail_on, error
        self._lock = threading.Lock()

    def __call__(self, batch: Any) -> list[Any]:
        with self._lock:
            self.batches.append(list(batch))
        if self.fail_on is not None and self.fail_on in list(batch):
            raise self.error or ValueError("bad item")
        return [item * 2 for item in batch]


def submit_together(batcher: Batcher, items: list[Any]) -> list[Any]:
    """Submit every item from its own thread, all released at once; each outcome (result or error) in order."""
    barrier = threading.Barrier(len(items))

    def one(item: Any) -> Any:
        barrier.wait(timeout=JOIN_TIMEOUT_S)
        try:
            return batcher.submit(item)
        except ServeError as error:
            return error

    with ThreadPoolExecutor(len(items)) as pool:
        return list(pool.map(one, items, timeout=JOIN_TIMEOUT_S))


def test_64_concurrent_submitters_share_batches_no_larger_than_the_maximum() -> None:
    recorder = Recorder()
    batcher = Batcher(recorder, "batch_predict_fn", max_size=8, max_wait_s=0.5)
    outcomes = submit_together(batcher, list(range(64)))
    assert outcomes == [i * 2 for i in range(64)]
    sizes = [len(b) for b in recorder.batches]
    assert sum(sizes) == 64 and max(sizes) <= 8
    assert len(sizes) < 64  # they really shared calls


def test_a_lone_request_waits_at_most_the_maximum_wait() -> None:
    max_wait = 0.05
    batcher = Batcher(Recorder(), "batch_predict_fn", max_size=8, max_wait_s=max_wait)
    batcher.submit(0)  # start the dispatcher thread outside the measure
    started = time.monotonic()
    assert batcher.submit(21) == 42
    elapsed = time.monotonic() - started
    assert max_wait * 0.9 <= elapsed < max_wait + 0.25  # slack for a loaded 2-core machine


def test_a_full_batch_does_not_wait() -> None:
    batcher = Batcher(Recorder(), "batch_predict_fn", max_size=1, max_wait_s=30)
    started = time.monotonic()
    assert batcher.submit(1) == 2
    assert time.monotonic() - started < 5  # far below the 30 s maximum wait


def test_a_raising_batch_fails_exactly_its_requests() -> None:
    recorder = Recorder(fail_on=13)
    batcher = Batcher(recorder, "batch_predict_fn", max_size=4, max_wait_s=0.5)
    outcomes = submit_together(batcher, list(range(32)))
    failed_batch = next(b for b in recorder.batches if 13 in b)
    for item, outcome in zip(range(32), outcomes, strict=True):
        if item in failed_batch:
            assert isinstance(outcome, ServeError) and outcome.status == 500
            assert "batch_predict_fn failed with ValueError" in str(outcome)
        else:
            assert outcome == item * 2
    failures = [o for o in outcomes if isinstance(o, ServeError)]
    assert len({id(o) for o in failures}) == len(failures)  # each request thread raises its own instance


def test_a_serve_error_from_the_batch_function_reaches_each_request_as_is() -> None:
    batcher = Batcher(Recorder(fail_on=1, error=BadRequest("row 1 is empty")), "batch_predict_fn", 4, 0.0)
    with pytest.raises(BadRequest, match="row 1 is empty"):
        batcher.submit(1)


def test_a_result_count_that_does_not_match_the_batch_is_a_500_naming_the_function() -> None:
    batcher = Batcher(lambda batch: [1, 2, 3], "batch_predict_fn", max_size=4, max_wait_s=0.0)
    with pytest.raises(ServeError, match="batch_predict_fn returned 3 results for a batch of 1 requests"):
        batcher.submit("x")
    unsized = Batcher(lambda batch: 7, "batch_predict_fn", max_size=4, max_wait_s=0.0)
    with pytest.raises(ServeError, match="batch_predict_fn returned a int; expected a sequence"):
        unsized.submit("x")


def test_numpy_rows_are_concatenated_and_split_back_by_row_count() -> None:
    seen: list[tuple[int, ...]] = []

    def predict(batch: Any) -> Any:
        seen.append(batch.shape)
        return batch.sum(axis=1)

    batcher = Batcher(predict, "batch_predict_fn", max_size=3, max_wait_s=5.0)
    items = [np.full((rows, 4), rows, dtype=np.float32) for rows in (1, 2, 3)]
    outcomes = submit_together(batcher, items)
    for rows, outcome in zip((1, 2, 3), outcomes, strict=True):
        np.testing.assert_array_equal(outcome, np.full(rows, 4.0 * rows))
    assert seen == [(6, 4)]


def test_one_dimensional_arrays_are_stacked_one_row_per_request() -> None:
    batcher = Batcher(lambda batch: batch * 10, "batch_predict_fn", max_size=2, max_wait_s=5.0)
    first, second = submit_together(batcher, [np.array([1, 2]), np.array([3, 4])])
    np.testing.assert_array_equal(first, [10, 20])
    np.testing.assert_array_equal(second, [30, 40])


def test_arrays_of_different_dtypes_are_handed_over_as_a_list() -> None:
    kinds: list[type] = []

    def predict(batch: Any) -> Any:
        kinds.append(type(batch))
        return [len(item) for item in batch]

    batcher = Batcher(predict, "batch_predict_fn", max_size=2, max_wait_s=5.0)
    assert submit_together(batcher, [np.zeros(2, np.int64), np.zeros(3, np.float32)]) == [2, 3]
    assert kinds == [list]


def test_submit_async_batches_coroutines_without_blocking_the_loop() -> None:
    recorder = Recorder()
    batcher = Batcher(recorder, "batch_predict_fn", max_size=16, max_wait_s=0.2)

    async def main() -> list[Any]:
        return list(await asyncio.gather(*(batcher.submit_async(i) for i in range(16))))

    assert asyncio.run(main()) == [i * 2 for i in range(16)]
    assert [len(b) for b in recorder.batches] == [16]


def test_a_batch_reaches_an_event_loop_in_one_call_and_its_failure_reaches_every_waiter() -> None:
    """One wake-up of the loop per batch, not one per request; a raising batch fails each awaiting request."""
    recorder = Recorder(fail_on=99)
    batcher = Batcher(recorder, "batch_predict_fn", max_size=8, max_wait_s=0.2)

    async def main() -> tuple[list[Any], list[Any], int]:
        loop = asyncio.get_running_loop()
        calls = 0
        original = loop.call_soon_threadsafe

        def counted(*args: Any, **kwargs: Any) -> Any:
            nonlocal calls
            calls += 1
            return original(*args, **kwargs)

        loop.call_soon_threadsafe = counted  # type: ignore[method-assign,assignment]
        good = await asyncio.gather(*(batcher.submit_async(i) for i in range(8)))
        bad = await asyncio.gather(*(batcher.submit_async(i) for i in (1, 99)), return_exceptions=True)
        return list(good), list(bad), calls

    good, bad, calls = asyncio.run(main())
    assert good == [i * 2 for i in range(8)]
    assert all(isinstance(error, ServeError) and "ValueError" in str(error) for error in bad)
    assert bad[0] is not bad[1]  # one instance per request
    assert calls == 2  # two batches, one loop call each


def test_an_await_given_up_before_its_batch_runs_is_left_out_of_the_batch() -> None:
    recorder = Recorder()
    batcher = Batcher(recorder, "batch_predict_fn", max_size=8, max_wait_s=0.1)

    async def main() -> Any:
        dropped = batcher.enqueue_async(1)
        dropped.cancel()  # as on a timeout
        return await batcher.submit_async(2)

    assert asyncio.run(main()) == 4
    assert recorder.batches == [[2]]


def test_after_close_the_dispatcher_stops_and_a_late_submit_still_gets_its_answer() -> None:
    batcher = Batcher(Recorder(), "batch_predict_fn", max_size=4, max_wait_s=0.0)
    assert batcher.submit(1) == 2
    thread = batcher._thread
    batcher.close()
    assert thread is not None
    thread.join(JOIN_TIMEOUT_S)
    assert not thread.is_alive()
    assert batcher.submit(5) == 10


@pytest.mark.parametrize(("size", "wait"), [(0, 0.0), (1, -1.0)])
def test_nonsense_limits_are_refused(size: int, wait: float) -> None:
    with pytest.raises(ValueError, match="max_size must be >= 1"):
        Batcher(Recorder(), "f", size, wait)
