"""Budgets the caller sets: requests per minute and tokens per minute, as token buckets.

A bucket fills at ``rate`` per second up to ``capacity`` (one second's worth, so a budget
is spent evenly rather than in bursts at each minute's start). A call takes what it is
expected to cost; when its real cost is known (the tokens it used) the difference is
settled, and the bucket may go below zero: the calls after it wait until it is paid back.
"""

from __future__ import annotations

__all__ = ["TokenBucket"]


class TokenBucket:
    """A budget of ``per_minute`` units a minute.

    Args:
        per_minute: The budget (requests or tokens per minute), positive.
        now: The current time (``time.monotonic()``); the bucket starts full.
    """

    def __init__(self, per_minute: float, now: float) -> None:
        if not per_minute > 0:
            raise ValueError(f"a per-minute budget must be positive, got {per_minute!r}")
        self.rate = per_minute / 60.0
        self.capacity = max(1.0, self.rate)
        self.level = self.capacity
        self._updated = now

    def _refill(self, now: float) -> None:
        self.level = min(self.capacity, self.level + (now - self._updated) * self.rate)
        self._updated = now

    def wait(self, amount: float, now: float) -> float:
        """Seconds until ``amount`` may be taken (more than the capacity waits for a full
        bucket, then goes into debt)."""
        self._refill(now)
        missing = min(amount, self.capacity) - self.level
        return max(0.0, missing / self.rate)

    def take(self, amount: float, now: float) -> None:
        """Spend ``amount`` (call ``wait`` first)."""
        self._refill(now)
        self.level -= amount

    def settle(self, difference: float, now: float) -> None:
        """Add what a call really cost beyond what it took (negative: give back)."""
        self._refill(now)
        self.level = min(self.capacity, self.level - difference)
