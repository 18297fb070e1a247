"""Per-minute budgets as token buckets (times given)."""

from __future__ import annotations

import pytest

from msgflux.batch._budget import TokenBucket


def test_a_full_bucket_lets_one_seconds_worth_go_then_spaces_the_rest():
    bucket = TokenBucket(600, now=0.0)  # 10 a second

    for _ in range(10):
        assert bucket.wait(1, 0.0) == 0
        bucket.take(1, 0.0)

    assert bucket.wait(1, 0.0) == pytest.approx(0.1)
    assert bucket.wait(1, 0.1) == pytest.approx(0.0)


def test_a_call_bigger_than_the_bucket_waits_for_a_full_one_then_goes_into_debt():
    bucket = TokenBucket(6000, now=0.0)  # 100 tokens a second
    bucket.take(100, 0.0)

    assert bucket.wait(500, 0.0) == pytest.approx(1.0)
    bucket.take(500, 1.0)
    assert bucket.wait(1, 1.0) == pytest.approx(4.01)


def test_settling_pays_back_or_refunds():
    bucket = TokenBucket(6000, now=0.0)
    bucket.take(50, 0.0)

    bucket.settle(-50, 0.0)  # the call used nothing
    assert bucket.level == pytest.approx(100)
    bucket.settle(150, 0.0)  # it used 150 more than it took
    assert bucket.wait(1, 0.0) == pytest.approx(0.51)


@pytest.mark.parametrize("budget", [0, -5])
def test_a_budget_must_be_positive(budget):
    with pytest.raises(ValueError, match="positive"):
        TokenBucket(budget, now=0.0)
