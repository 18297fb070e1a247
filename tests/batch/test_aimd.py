"""The adaptive limits, step by step, with the times given (no clock, no server)."""

from __future__ import annotations

import pytest

from msgflux.batch._aimd import (
    AIMD,
    INITIAL_WINDOW,
    PROBE_GROWTH,
    RATE_DECREASE,
    RECOVERY_GROWTH,
    WINDOW_DECREASE,
)


def ramp(limits: AIMD, calls: int, *, every: float, start: float = 0.0) -> float:
    """``calls`` calls, each started and answered ``every`` seconds apart; the last time."""
    now = start
    for _ in range(calls):
        limits.started(now)
        now += every
        limits.succeeded(now, now - every)
    return now


def test_slow_start_grows_the_window_by_one_per_success_up_to_the_maximum():
    limits = AIMD(10)
    assert limits.window == INITIAL_WINDOW
    assert not limits.has_room(INITIAL_WINDOW) and limits.has_room(INITIAL_WINDOW - 1)

    ramp(limits, 3, every=0.01)
    assert limits.window == INITIAL_WINDOW + 3

    ramp(limits, 50, every=0.01, start=1.0)
    assert limits.window == 10
    assert limits.rate is None  # never paced while the server keeps up


def test_a_429_cuts_the_window_and_paces_below_what_the_server_accepted():
    limits = AIMD(64)
    now = ramp(limits, 100, every=0.01)  # 100 calls a second accepted
    window = limits.window

    limits.rate_limited(now, now - 0.01, retry_after=None)

    assert limits.window == pytest.approx(window * WINDOW_DECREASE)
    assert limits.rate == pytest.approx(RATE_DECREASE * 100, rel=0.05)
    assert limits.decreases == 1
    assert limits.wait(now) > 0  # the new pace starts one interval later


def test_signals_from_calls_started_before_the_cut_are_ignored():
    limits = AIMD(64)
    now = ramp(limits, 100, every=0.01)
    limits.rate_limited(now, now - 0.01, retry_after=None)
    rate, window = limits.rate, limits.window

    for _ in range(5):  # the rest of the same burst comes back refused
        limits.rate_limited(now + 0.001, now - 0.005, retry_after=None)

    assert (limits.rate, limits.window, limits.decreases) == (rate, window, 1)


def test_a_retry_after_closes_the_gate():
    limits = AIMD(8)
    limits.rate_limited(10.0, 9.9, retry_after=2.5)

    assert limits.wait(10.0) == pytest.approx(2.5)
    assert limits.wait(12.5) <= 0


def test_after_a_cut_the_pace_recovers_quickly_then_probes_slowly():
    limits = AIMD(64)
    now = ramp(limits, 100, every=0.01)
    limits.rate_limited(now, now, retry_after=None)
    cut = limits.rate
    probe_from = limits.probe_from

    now = ramp(limits, 1, every=0.02, start=now + 1)
    assert limits.rate == pytest.approx(cut * (1 + RECOVERY_GROWTH))

    while limits.rate < 0.95 * probe_from:
        now = ramp(limits, 1, every=0.02, start=now)
    before = limits.rate
    ramp(limits, 1, every=0.02, start=now)
    assert limits.rate == pytest.approx(before * (1 + PROBE_GROWTH))


def test_congestion_avoidance_grows_the_window_by_one_per_window():
    limits = AIMD(64)
    now = ramp(limits, 20, every=0.01)
    limits.rate_limited(now, now, retry_after=None)
    window = limits.window

    ramp(limits, 1, every=0.01, start=now + 1)

    assert limits.window == pytest.approx(window + 1 / window)


def test_a_declared_limit_caps_the_pace_and_an_empty_budget_only_holds():
    limits = AIMD(64)
    limits.started(0.0)
    limits.succeeded(0.1, 0.0, remaining=30, ceiling=50.0)
    assert limits.pace() == 50.0

    window = limits.window
    limits.succeeded(0.2, 0.1, remaining=0, ceiling=50.0)

    assert limits.window == window and limits.decreases == 0


def test_without_a_declared_limit_an_empty_budget_is_pushback():
    limits = AIMD(64)
    now = ramp(limits, 50, every=0.01)

    limits.succeeded(now, now, remaining=0)

    assert limits.decreases == 1
    assert limits.rate is not None


def test_not_adaptive_keeps_the_window_and_only_honours_retry_after():
    limits = AIMD(16, adaptive=False)
    now = ramp(limits, 30, every=0.01)
    limits.rate_limited(now, now, retry_after=1.0)

    assert limits.window == 16
    assert limits.rate is None
    assert limits.wait(now) == pytest.approx(1.0)
    assert limits.wait(now + 1.0) <= 0
