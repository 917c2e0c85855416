"""Where the async worker runs a route's calls: the pool until proven fast, back to the pool when slow."""

from __future__ import annotations

from smtoolkit.serve.adapters.placement import FAST_STREAK, Placement


def test_a_route_runs_inline_only_after_a_streak_of_fast_calls():
    placement = Placement()
    for _ in range(FAST_STREAK - 1):
        placement.learn(0.0001, inline=False)
    assert not placement.inline
    placement.learn(0.01, inline=False)  # one slow call restarts the streak
    for _ in range(FAST_STREAK - 1):
        placement.learn(0.0001, inline=False)
    assert not placement.inline
    placement.learn(0.0001, inline=False)
    assert placement.inline


def test_each_slow_inline_call_doubles_the_streak_to_show_again():
    placement = Placement()
    for slow_calls in range(3):
        for _ in range(FAST_STREAK * 2**slow_calls - 1):
            placement.learn(0.0001, inline=False)
        assert not placement.inline
        placement.learn(0.0001, inline=False)
        assert placement.inline
        placement.learn(0.05, inline=True)
        assert not placement.inline and placement.streak == 0
    placement.learn(0.001, inline=True)  # not slow enough to matter: it was not inline anyway
    assert placement.slow_inline_calls == 3


def test_disabled_placement_keeps_every_call_in_the_pool():
    placement = Placement(enabled=False)
    for _ in range(FAST_STREAK * 2):
        placement.learn(0.0001, inline=False)
    assert not placement.inline
    assert placement.timed(lambda: 42, inline=False) == 42


def test_an_inline_call_that_sleeps_counts_as_slow_and_one_that_is_fast_does_not():
    import time

    placement = Placement()
    placement.inline = True
    placement.timed(lambda: None, inline=True)
    assert placement.inline
    placement.timed(lambda: time.sleep(0.02), inline=True)  # waiting blocks the event loop as much as computing
    assert not placement.inline and placement.slow_inline_calls == 1


def test_a_long_quiet_inline_run_forgives_one_slow_call():
    from smtoolkit.serve.adapters.placement import FORGIVE

    placement = Placement()
    placement.slow_inline_calls, placement.inline = 2, True
    for _ in range(FORGIVE):
        placement.learn(0.0001, inline=True)
    assert placement.slow_inline_calls == 1 and placement.inline


def test_in_the_pool_a_call_is_judged_by_its_cpu_time_not_by_its_waits_for_the_gil():
    """A fast call whose thread waited for the GIL (the loop and other threads busy) still counts as fast; one
    that waits past POOL_WALL_S by its own choice does not."""
    import threading
    import time

    from smtoolkit.serve.adapters.placement import POOL_WALL_S

    placement = Placement()
    stop = threading.Event()

    def hog() -> None:  # holds the GIL in 5 ms slices while the pool calls run
        while not stop.is_set():
            sum(range(1000))

    hogger = threading.Thread(target=hog)
    hogger.start()
    try:
        for _ in range(FAST_STREAK):
            placement.timed(lambda: time.sleep(0), inline=False)  # lets the hog in: ~5 ms to get the GIL back
    finally:
        stop.set()
        hogger.join()
    assert placement.inline
    placement = Placement()
    placement.streak = FAST_STREAK - 1
    placement.timed(lambda: time.sleep(POOL_WALL_S * 1.2), inline=False)
    assert not placement.inline and placement.streak == 0
