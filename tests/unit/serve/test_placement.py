"""Where the async worker runs a route's calls: the pool until proven fast, back to the pool when slow."""

from __future__ import annotations

from smtoolkit.serve.placement import FAST_STREAK, GIVE_UP, Placement


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


def test_a_slow_inline_call_sends_the_route_back_for_good_after_a_few():
    placement = Placement()
    for _ in range(GIVE_UP):
        for _ in range(FAST_STREAK):
            placement.learn(0.0001, inline=False)
        assert placement.inline
        placement.learn(0.05, inline=True)
        assert not placement.inline
    for _ in range(FAST_STREAK * 2):
        placement.learn(0.0001, inline=False)
    assert not placement.inline


def test_disabled_placement_keeps_every_call_in_the_pool():
    placement = Placement(enabled=False)
    for _ in range(FAST_STREAK * 2):
        placement.learn(0.0001, inline=False)
    assert not placement.inline
    assert placement.timed(lambda: 42, inline=False) == 42
