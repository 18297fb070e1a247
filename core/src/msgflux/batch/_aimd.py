"""How many calls run at once and how fast they start: additive increase, multiplicative
decrease (AIMD), the way TCP shares a link.

The controller is pure bookkeeping (times are passed in), so its behaviour is tested
without clocks or servers; the runner asks it when the next call may start and tells it
how each call ended.

- **Slow start.** The window (calls in flight) starts small and grows by one per success,
  doubling each round trip, until the server first pushes back. Starts are not paced.
- **Pushback.** A 429 (or, from a server that declares no limit, a success whose
  ``x-ratelimit-remaining-*`` headers say not even one more call is left) cuts the
  window to ``WINDOW_DECREASE`` of itself and paces starts at ``RATE_DECREASE`` of the
  rate the server accepted over the last seconds. The pace that proved too fast is
  remembered as ``probe_from``. Signals from calls that started before the last cut are
  ignored: they report the old pace, and cutting again for each of them would punish one
  burst many times.
- **Increase.** Each success grows the window by ``1/window`` (one call per round trip)
  and the pace: quickly (``RECOVERY_GROWTH``) back up to just below ``probe_from``,
  then slowly (``PROBE_GROWTH``, about ten percent in 350 successes), so the pace meets
  the server's capacity again only now and then.
- **Declared limits.** A server that reports its limit (``x-ratelimit-limit-requests``,
  per minute) sets a ceiling on the pace; with a ceiling, a success saying nothing is left
  only stops the increase, since the pace is already what the server says it takes.
- **Retry-After.** A 429 that says how long to wait closes the gate: no call starts
  before then.
"""

from __future__ import annotations

import math
from collections import deque

__all__ = ["AIMD"]

INITIAL_WINDOW = 4
WINDOW_DECREASE = 0.7
RATE_DECREASE = 0.9
RECOVERY_GROWTH = 0.005  # per success, multiplicative, while below PROBE_MARGIN * probe_from
PROBE_GROWTH = 0.0003  # per success, multiplicative: +10% in ~350 successes
PROBE_MARGIN = 0.95
MEASURE_SECONDS = 2.0  # the accepted rate is measured over this much recent time


class AIMD:
    """The adaptive limits of one batch.

    Args:
        max_concurrency: The window never grows past this.
        adaptive: ``False`` keeps the window at ``max_concurrency`` and never paces
            (a ``Retry-After`` still closes the gate).
        start: The time the batch started (``time.monotonic()``).

    Attributes:
        window: Calls allowed in flight (its integer part counts).
        rate: Starts per second, or ``None`` while unpaced.
        ceiling: Starts per second the server declared it takes, or ``None``.
        gate: No call starts before this time.
        decreases: How many times the limits were cut.
    """

    def __init__(self, max_concurrency: int, *, adaptive: bool = True, start: float = 0.0) -> None:
        self.max_concurrency = max_concurrency
        self.adaptive = adaptive
        self.window = float(min(INITIAL_WINDOW, max_concurrency) if adaptive else max_concurrency)
        self.rate: float | None = None
        self.ceiling: float | None = None
        self.gate = start
        self.decreases = 0
        self.probe_from: float | None = None
        self._start = start
        self._slow_start = adaptive
        self._next_start = start
        self._last_cut = -math.inf
        self._accepted: deque[float] = deque()
        self._started: deque[float] = deque()

    # -- when the next call may start ---------------------------------------------------------

    def has_room(self, in_flight: int) -> bool:
        """Whether another call may be in flight."""
        return in_flight < max(1, int(self.window))

    def wait(self, now: float) -> float:
        """Seconds until the next call may start (``0`` or less: it may start now)."""
        return max(self.gate, self._next_start) - now

    def pace(self) -> float | None:
        """Starts per second now: the rate, under the declared ceiling (``None``: unpaced)."""
        if self.rate is None:
            return self.ceiling
        return self.rate if self.ceiling is None else min(self.rate, self.ceiling)

    def started(self, now: float) -> None:
        """A call starts now: take its place in the pace."""
        _keep_recent(self._started, now)
        pace = self.pace() if self.adaptive else None
        if pace:
            interval = 1.0 / pace
            # One interval of credit absorbs the event loop's lateness without bursts.
            self._next_start = max(self._next_start, now - interval) + interval

    # -- how calls ended ----------------------------------------------------------------------

    def succeeded(
        self,
        now: float,
        started: float,
        *,
        remaining: float | None = None,
        ceiling: float | None = None,
    ) -> None:
        """A call that started at ``started`` succeeded.

        Args:
            remaining: Calls the rate-limit headers say are left (``None``: not reported;
                the server has already counted the calls in flight).
            ceiling: Calls per second the server declares it takes (``None``: not said).
        """
        _keep_recent(self._accepted, now)
        if not self.adaptive:
            return
        if ceiling is not None and ceiling > 0:
            self.ceiling = ceiling
        if remaining is not None and remaining < 1.0:
            if self.ceiling is None:
                self._push_back(now, started)
            return  # at the declared limit: hold
        self._grow()

    def _grow(self) -> None:
        limit = float(self.max_concurrency)
        if self._slow_start:
            self.window = min(limit, self.window + 1.0)
            return
        self.window = min(limit, self.window + 1.0 / self.window)
        if self.rate is None:
            return
        below = self.probe_from is not None and self.rate < PROBE_MARGIN * self.probe_from
        self.rate *= 1.0 + (RECOVERY_GROWTH if below else PROBE_GROWTH)
        if self.ceiling is not None:
            self.rate = min(self.rate, self.ceiling)

    def rate_limited(self, now: float, started: float, retry_after: float | None) -> None:
        """A call that started at ``started`` got a 429."""
        if retry_after is not None and retry_after > 0:
            self.gate = max(self.gate, now + retry_after)
        if self.adaptive:
            self._push_back(now, started)

    def _push_back(self, now: float, started: float) -> None:
        if started < self._last_cut:
            return
        self._last_cut = now
        self._slow_start = False
        self.decreases += 1
        self.window = max(1.0, self.window * WINDOW_DECREASE)
        sent = self._measured(self._started, now)
        accepted = self._measured(self._accepted, now) or sent
        if accepted is None:
            return
        too_fast = self.pace() or sent or accepted
        self.probe_from = too_fast
        self.rate = max(RATE_DECREASE * min(too_fast, accepted), 1.0 / MEASURE_SECONDS)
        # The new pace starts one interval from now (the server's budget had run dry), and
        # only calls started from then on speak for it.
        interval = 1.0 / (self.pace() or self.rate)
        self._next_start = max(self._next_start, now + interval)
        self._last_cut = now + interval

    def _measured(self, times: deque[float], now: float) -> float | None:
        _forget_old(times, now)
        span = min(MEASURE_SECONDS, now - self._start)
        if not times or span <= 0:
            return None
        return len(times) / span


def _keep_recent(times: deque[float], now: float) -> None:
    times.append(now)
    _forget_old(times, now)


def _forget_old(times: deque[float], now: float) -> None:
    horizon = now - MEASURE_SECONDS
    while times and times[0] < horizon:
        times.popleft()
